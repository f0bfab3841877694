"""The screening log as a sponsor export resource, registered with trials' exports."""

from __future__ import annotations

from screening.models import Screening
from trials.sponsor_api.exports import Column, Resource, date, participant_site, plain

SCREENINGS = Resource(
    name="screenings",
    model=lambda: Screening,
    participant="participant_id",
    date_field="started_at",
    columns=(
        *participant_site("participant_id"),
        plain("protocol_version", "protocol_version__number"),
        plain("result"),
        Column("failed_criteria", "failed", "list"),
        Column("missing_criteria", "missing", "list"),
        date("started_at"),
        date("closed_at"),
        date("updated_at"),
    ),
    description="Screenings: verdict and criteria by id, never the screening data.",
)
