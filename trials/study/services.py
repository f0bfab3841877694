"""Loading a protocol file into a trial: one write path for the command, upload and admin."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from trials.audit import audit_context
from trials.study.models import Arm, ProtocolVersion, Sponsor, Trial
from trials.study.protocol import ProtocolError, canonical_json, content_hash, load_protocol_text

if TYPE_CHECKING:
    from django.contrib.auth.models import User


TRIAL_FIELDS_FROM_PROTOCOL = (
    "title",
    "indication",
    "compound",
    "phase",
    "target_enrollment",
    "facilitators_per_dosing_session",
)


def protocol_load(
    *, content: str | bytes, filename: str, by: User | None, actor: str = "system"
) -> tuple[ProtocolVersion, bool]:
    """Validate a protocol file and store it as its trial's next version.

    Returns the version and whether it is new: identical content changes nothing. A bad file
    raises ProtocolError naming every problem's place, and nothing is saved.

    A data manager's action, not a trial role's: a user needs the admin's permission to add
    protocol versions (the admin's upload checks the same). The load_protocol command and the
    demo seeder load as the system (by=None), which only shell access to the server allows.
    """
    protocol = load_protocol_text(content, filename=filename)
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    digest = content_hash(protocol)
    meta = protocol["trial"]
    reason = f"Protocol file {filename or '(upload)'} loaded"
    with transaction.atomic(), audit_context(by=by, reason=reason, actor=actor):
        if by is not None and not by.has_perm("trials.add_protocolversion"):
            raise PermissionDenied("Only a data manager loads protocol files.")
        sponsor, _ = Sponsor.objects.get_or_create(name=meta["sponsor"])
        trial = Trial.objects.select_for_update().filter(code=meta["code"]).first()
        if trial is not None:
            existing = trial.protocol_versions.filter(content_hash=digest).first()
            if existing is not None:
                return existing, False
            if trial.sponsor_id != sponsor.pk:
                raise ProtocolError(
                    [
                        f"trial.sponsor: {meta['code']} belongs to {trial.sponsor.name}; "
                        "a new version cannot change the sponsor"
                    ]
                )
        trial = _trial_from_protocol(trial, sponsor, protocol)
        last = trial.protocol_versions.order_by("-number").values_list("number", flat=True).first()
        version = ProtocolVersion(
            trial=trial,
            number=(last or 0) + 1,
            content=json.loads(canonical_json(protocol)),
            content_hash=digest,
            source=text,
            source_name=filename,
            loaded_by=by,
        )
        version.full_clean()
        version.save()
        _arms_from_protocol(trial, protocol["arms"])
    return version, True


def _trial_from_protocol(trial: Trial | None, sponsor: Sponsor, protocol: dict[str, Any]) -> Trial:
    meta = protocol["trial"]
    trial = trial or Trial(code=meta["code"], sponsor=sponsor)
    for name in TRIAL_FIELDS_FROM_PROTOCOL:
        setattr(trial, name, meta[name])
    trial.open_label = protocol["randomization"] is None
    trial.full_clean()
    trial.save()
    return trial


def _arms_from_protocol(trial: Trial, arms: list[dict[str, Any]]) -> None:
    # Arms dropped by a later version are kept: participants may already be allocated to them.
    existing = {arm.code: arm for arm in trial.arms.all()}
    for spec in arms:
        arm = existing.get(spec["code"]) or Arm(trial=trial, code=spec["code"])
        if arm.pk and (arm.label, arm.dose_mg) == (spec["label"], spec["dose_mg"]):
            continue
        arm.label, arm.dose_mg = spec["label"], spec["dose_mg"]
        arm.full_clean()
        arm.save()
