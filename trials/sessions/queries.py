"""Reads for the session pages: what the dosing session log shows beside its forms."""

from __future__ import annotations

import datetime
from typing import Any, cast

from trials.facilitators.queries import qualification
from trials.sessions.models import DosingSession, SessionSignature, Visit, VisitFacilitator
from trials.sessions.services import predose_problems, vitals_out_of_range
from trials.study.sitetime import local_date


def dosing_log(visit: Visit, session: DosingSession | None) -> dict[str, Any]:
    """The dosing visit's team with each one's qualification on the dosing day, the protocol's
    limits and, once started, the session's problems, readings and signatures."""
    participant = visit.participant
    protocol = visit.protocol_version.content
    team = (
        VisitFacilitator.objects.filter(visit=visit)
        .select_related("facilitator__user")
        .prefetch_related("facilitator__credentials")
    )
    on = (
        local_date(session.dosed_at, participant.site.time_zone)
        if session and session.dosed_at
        else cast(datetime.date, visit.target_date)  # a dosing visit is scheduled
    )
    requirements = protocol["trial"]["facilitator_requirements"]
    log: dict[str, Any] = {
        "team": [
            (a.facilitator, qualification(a.facilitator.credentials.all(), requirements, on))
            for a in team
        ],
        "limits": protocol["trial"]["dosing_safety"],
        "has_supplement": any(len(arm["dose_mg"]) > 1 for arm in protocol["arms"]),
    }
    if session is not None:
        log["problems"] = predose_problems(session) if session.status == "in_progress" else []
        log["out_of_range"] = vitals_out_of_range(session)
        log["vitals"] = list(session.vitals.order_by("measured_at"))
        log["signatures"] = list(
            SessionSignature.objects.filter(dosing_session=session)
            .select_related("signature", "facilitator__user")
            .order_by("revision", "signature__signed_at")
        )
    return log
