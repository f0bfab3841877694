"""The audit trail: who changed what, when and why, read from the trigger-written event tables."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pghistory
from django.core.exceptions import ValidationError
from django.db import connection
from pghistory.models import Events

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from trials.models import Participant

MIN_REASON_LENGTH = 3


@contextmanager
def audit_context(
    *, by: AbstractBaseUser | None, reason: str, actor: str = "system"
) -> Iterator[None]:
    """Attach the acting user and the reason to every audited write made inside the block.

    Without a user (a command, a task), `actor` names who or what acted.
    """
    metadata: dict[str, Any] = {"reason": reason, "username": actor, "user_name": actor}
    if by is not None:
        metadata["user"] = by.pk
        metadata["username"] = by.get_username()
        metadata["user_name"] = by.get_full_name() or by.get_username()  # type: ignore[attr-defined]
    with pghistory.context() as current:
        previous = dict(current.metadata)
        current.metadata.update(metadata)
        # The block's user and reason must not stick to later writes: restore the enclosing
        # context, and clear the transaction-local copy PostgreSQL keeps until commit.
        try:
            yield
        finally:
            current.metadata.clear()
            current.metadata.update(previous)
        if connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('pghistory.context_id', '', true),"
                    " set_config('pghistory.context_metadata', '', true)"
                )


def require_reason(reason: str | None, *, field: str = "reason") -> str:
    """The reason for changing a saved clinical record: mandatory, stated in words."""
    cleaned = (reason or "").strip()
    if len(cleaned) < MIN_REASON_LENGTH:
        raise ValidationError({field: "Give the reason for this change."})
    return cleaned


@dataclass(frozen=True)
class AuditEntry:
    at: datetime.datetime
    record: str
    record_id: str
    action: str
    username: str
    user_name: str
    reason: str
    changes: list[tuple[str, Any, Any]]
    context_id: str


HIDDEN_FIELDS = {"id", "participant", "participant_id", "updated_at"}
IDENTITY_MODEL = "trials.ParticipantContact"


def _entry(event: Events) -> AuditEntry:
    context = event.pgh_context or {}
    if event.pgh_diff:
        changes = [(name, old, new) for name, (old, new) in sorted(event.pgh_diff.items())]
    else:
        changes = [(name, None, value) for name, value in sorted(event.pgh_data.items())]
    return AuditEntry(
        at=event.pgh_created_at,
        record=event.pgh_obj_model.split(".")[-1],
        record_id=str(event.pgh_obj_id),
        action=event.pgh_label,
        username=context.get("username", "system"),
        user_name=context.get("user_name", context.get("username", "system")),
        reason=context.get("reason", ""),
        changes=[change for change in changes if change[0] not in HIDDEN_FIELDS],
        context_id=str(event.pgh_context_id or event.pgh_slug),
    )


def participant_audit_trail(participant: Participant, *, with_identity: bool) -> list[AuditEntry]:
    """Every recorded change to the participant and the records that point at it, oldest first.

    One query whatever the number of events. Changes to contact details are left out unless the
    reader may see the participant's identity.
    """
    events = Events.objects.references(participant).order_by("pgh_created_at", "pgh_slug")
    if not with_identity:
        events = events.exclude(pgh_obj_model=IDENTITY_MODEL)
    return [_entry(event) for event in events]


@dataclass(frozen=True)
class TimelineItem:
    at: datetime.datetime
    user_name: str
    reason: str
    records: tuple[str, ...]


def timeline(entries: list[AuditEntry], records: set[str]) -> list[TimelineItem]:
    """One line per action (one audit context): when, who, why, and which records it touched."""
    items: dict[str, TimelineItem] = {}
    for entry in entries:
        if entry.record not in records or not entry.reason:
            continue
        item = items.get(entry.context_id)
        if item is None:
            items[entry.context_id] = TimelineItem(
                entry.at, entry.user_name, entry.reason, (entry.record,)
            )
        elif entry.record not in item.records:
            items[entry.context_id] = TimelineItem(
                item.at, item.user_name, item.reason, (*item.records, entry.record)
            )
    return list(items.values())
