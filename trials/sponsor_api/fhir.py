"""The trial as a FHIR R4B Bundle: its ResearchStudy and one ResearchSubject per participant.

Written entry by entry as JSON, so memory does not grow with the trial. Subjects are known by
their sponsor pseudonym only (the Patient is a logical reference by that identifier); the arm
appears only where the sponsor may see it (`study.permissions.may_see_arm`); the latest consent
is a contained Consent resource; dates follow the sponsor's export profile (FHIR accepts a
year alone as a date).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models import F, OuterRef, Subquery
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, permission_classes, renderer_classes
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from trials.enrollment.models import Consent
from trials.participants.models import Participant
from trials.sponsor_api.api import IsSponsorKey
from trials.sponsor_api.exports import ExportStream
from trials.sponsor_api.odm import logged_response, sponsor_trial_or_404
from trials.sponsor_api.pseudonyms import pseudonym, reduce_date
from trials.study.models import Arm, Role, Sponsor, Trial
from trials.study.permissions import may_see_arm

CONTENT_TYPE = "application/fhir+json"
CHUNK_SIZE = 2000
PSEUDONYM_SYSTEM = "urn:dyad:sponsor-pseudonym"
STUDY_SYSTEM = "urn:dyad:trial"
NAMESPACE = uuid.UUID("6f1c1f0e-3c55-4a7e-9d8e-1b7a0dca4f21")

# Participant lifecycle -> ResearchSubject.status (R4B research-subject-status).
SUBJECT_STATUS = {
    Participant.Status.CANDIDATE: "candidate",
    Participant.Status.SCREENING: "screening",
    Participant.Status.SCREEN_FAILED: "ineligible",
    Participant.Status.ELIGIBLE: "eligible",
    Participant.Status.CONSENTED: "pending-on-study",
    Participant.Status.RANDOMIZED: "on-study",
    Participant.Status.IN_TREATMENT: "on-study-intervention",
    Participant.Status.FOLLOW_UP: "follow-up",
    Participant.Status.COMPLETED: "off-study",
    Participant.Status.WITHDRAWN: "withdrawn",
    Participant.Status.LOST_TO_FOLLOW_UP: "off-study",
}
PHASES = {"1": "phase-1", "2": "phase-2", "3": "phase-3", "4": "phase-4"}


def _full_url(kind: str, key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{kind}/{key}')}"


def _research_study(trial: Trial, sponsor: Sponsor, arms: list[Arm]) -> dict[str, Any]:
    phase = PHASES.get(trial.phase.strip().lower().removeprefix("phase").strip(), "n-a")
    study = {
        "resourceType": "ResearchStudy",
        "id": trial.code,
        "identifier": [{"system": STUDY_SYSTEM, "value": trial.code}],
        "title": trial.title,
        "status": "active",
        "phase": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/research-study-phase",
                    "code": phase,
                }
            ]
        },
        "condition": [{"text": trial.indication}],
        "sponsor": {"display": sponsor.name},
    }
    if arms:  # FHIR allows no empty lists
        study["arm"] = [{"name": arm.code, "description": arm.label} for arm in arms]
    return study


def _consent(row: Mapping[str, Any], profile: str) -> dict[str, Any]:
    consent: dict[str, Any] = {
        "resourceType": "Consent",
        "id": "consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "research",
                }
            ]
        },
        "category": [
            {"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Consent"}]}
        ],
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "dateTime": reduce_date(row["consented_at"], profile),
    }
    if row["status"] == Participant.Status.WITHDRAWN:
        consent["status"] = "inactive"
    return consent


def _research_subject(
    row: Mapping[str, Any], *, sponsor: Sponsor, study_url: str, arm_visible: bool
) -> dict[str, Any]:
    name = pseudonym(sponsor.pseudonym_secret, row["id"])
    profile = sponsor.export_profile
    subject: dict[str, Any] = {
        "resourceType": "ResearchSubject",
        "id": name,
        "identifier": [{"system": PSEUDONYM_SYSTEM, "value": name}],
        "status": SUBJECT_STATUS[row["status"]],
        "study": {"reference": study_url},
        "individual": {
            "type": "Patient",
            "identifier": {"system": PSEUDONYM_SYSTEM, "value": name},
        },
    }
    start = reduce_date(row["allocated_at"] or row["consented_at"], profile)
    end = reduce_date(row["exited_on"], profile)
    if start or end:
        subject["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    if arm_visible and row["arm_code"]:
        subject["assignedArm"] = row["arm_code"]
        subject["actualArm"] = row["arm_code"]
    if row["consented_at"] is not None:
        subject["contained"] = [_consent(row, profile)]
        subject["consent"] = {"reference": "#consent"}
    return subject


def _subjects(trial: Trial) -> Iterator[Mapping[str, Any]]:
    latest_consent = Consent.objects.filter(participant=OuterRef("pk")).order_by("-consented_at")
    return (
        Participant.objects.filter(trial=trial)
        .annotate(
            consented_at=Subquery(latest_consent.values("consented_at")[:1]),
            allocated_at=F("allocation__allocated_at"),
            arm_code=F("allocation__arm__code"),
            exited_on=F("study_exit__exited_on"),
        )
        .order_by("pk")
        .values("id", "status", "consented_at", "allocated_at", "arm_code", "exited_on")
        .iterator(chunk_size=CHUNK_SIZE)
    )


def fhir_stream(*, sponsor: Sponsor, trial: Trial) -> ExportStream:
    """The Bundle as JSON, a batch of entries at a time; `rows` counts the subjects written."""
    return ExportStream(lambda stream: _fhir_chunks(stream, sponsor, trial))


def _fhir_chunks(stream: ExportStream, sponsor: Sponsor, trial: Trial) -> Iterator[bytes]:
    # The sponsor is not the site's investigator: an emergency unblinding does not reveal the
    # arm to them, so one answer holds for every participant of the trial.
    arm_visible = may_see_arm(frozenset({Role.SPONSOR}), Participant(trial=trial), unblinded=False)
    study_url = _full_url("ResearchStudy", trial.code)
    arms = list(Arm.objects.filter(trial=trial).order_by("code")) if arm_visible else []
    now = timezone.now().replace(microsecond=0).isoformat()
    header = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": now,
    }
    yield json.dumps(header)[:-1].encode() + b', "entry": ['
    study = _research_study(trial, sponsor, arms)
    yield json.dumps({"fullUrl": study_url, "resource": study}).encode()
    batch: list[str] = []
    for row in _subjects(trial):
        subject = _research_subject(
            row, sponsor=sponsor, study_url=study_url, arm_visible=arm_visible
        )
        entry = {"fullUrl": _full_url("ResearchSubject", subject["id"]), "resource": subject}
        batch.append(json.dumps(entry))
        stream.rows += 1
        if len(batch) >= 100:
            yield b"," + ",".join(batch).encode()
            batch.clear()
    if batch:
        yield b"," + ",".join(batch).encode()
    yield b"]}\n"


class FHIRRenderer(JSONRenderer):
    media_type = CONTENT_TYPE
    format = "fhir"


@extend_schema(
    summary="The trial as a FHIR R4B Bundle (ResearchStudy and ResearchSubjects)",
    description=(
        "A Bundle of type collection: the ResearchStudy, then one ResearchSubject per "
        "participant, identified by the sponsor's pseudonym only, with status from the "
        "participant's lifecycle, the arm only when the sponsor may see it (open-label trials), "
        "and the latest consent as a contained Consent. Streamed."
    ),
    responses={
        (200, CONTENT_TYPE): OpenApiResponse(OpenApiTypes.OBJECT, description="FHIR R4B Bundle"),
        401: OpenApiResponse(description="No or bad API key."),
        404: OpenApiResponse(description="No such trial for this sponsor."),
    },
    tags=["exports"],
)
@api_view(["GET"])
@renderer_classes([JSONRenderer, FHIRRenderer])
@permission_classes([IsSponsorKey])
def trial_fhir(request: Request, code: str) -> StreamingHttpResponse:
    """GET /api/v1/trials/<code>/fhir."""
    sponsor, trial = sponsor_trial_or_404(request, code)
    stream = fhir_stream(sponsor=sponsor, trial=trial)
    response = logged_response(request, stream, trial=trial, resource="fhir", fmt="fhir")
    response["Content-Type"] = CONTENT_TYPE
    return response
