"""A participant's safety picture: instruments by visit, scores and adverse events."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trials.participants.models import Participant
from trials.safety.charts import ScoresChart, score_text, scores_chart
from trials.safety.models import AdverseEvent, Assessment, SuicideRiskScreen
from trials.sessions.models import Visit
from trials.study.models import ProtocolVersion

# The visit statuses at which assessment_record accepts a score.
RECORDABLE = (Visit.Status.SCHEDULED, Visit.Status.BOOKED, Visit.Status.COMPLETED)


@dataclass(frozen=True)
class Instrument:
    """A rating scale as the protocol file declares it."""

    code: str
    label: str
    minimum: Decimal
    maximum: Decimal

    @classmethod
    def from_protocol(cls, spec: dict[str, Any]) -> Instrument:
        """Read an entry of the protocol's `instruments` list."""
        return cls(
            spec["code"], spec["label"], Decimal(str(spec["min"])), Decimal(str(spec["max"]))
        )

    @property
    def range_text(self) -> str:
        return f"{self.code} {score_text(self.minimum)}–{score_text(self.maximum)}"


def protocol_instruments(content: dict[str, Any]) -> dict[str, Instrument]:
    """The protocol's rating scales by code."""
    return {spec["code"]: Instrument.from_protocol(spec) for spec in content["instruments"]}


def event_instruments(content: dict[str, Any], event_code: str) -> list[Instrument]:
    """The rating scales a protocol collects at one of its events, in the protocol's order."""
    known = protocol_instruments(content)
    event = next((e for e in content["schedule"] if e["code"] == event_code), None)
    return [known[code] for code in (event or {}).get("instruments", []) if code in known]


@dataclass(frozen=True)
class InstrumentScores:
    instrument: Instrument
    assessments: list[Assessment]


@dataclass(frozen=True)
class VisitInstruments:
    """A visit whose event collects rating scales, and which of them are recorded."""

    visit: Visit
    instruments: list[Instrument]
    recorded: list[Assessment]

    @property
    def missing(self) -> list[Instrument]:
        done = {assessment.instrument for assessment in self.recorded}
        return [item for item in self.instruments if item.code not in done]

    @property
    def recordable(self) -> bool:
        return self.visit.status in RECORDABLE and bool(self.missing)


@dataclass(frozen=True)
class AdverseEventLine:
    event: AdverseEvent

    @property
    def serious(self) -> bool:
        return self.event.is_serious

    @property
    def awaiting_signature(self) -> bool:
        return self.event.review_signature_id is None


@dataclass(frozen=True)
class ParticipantSafety:
    participant: Participant
    scores: list[InstrumentScores]
    visits: list[VisitInstruments]
    latest_risk_screen: SuicideRiskScreen | None
    adverse_events: list[AdverseEventLine]
    chart: ScoresChart | None

    @property
    def serious_count(self) -> int:
        return sum(line.serious for line in self.adverse_events)

    @property
    def awaiting_signature_count(self) -> int:
        return sum(line.awaiting_signature for line in self.adverse_events)


def participant_safety(participant: Participant) -> ParticipantSafety:
    """Scores by scale, visits collecting scales, the latest C-SSRS, adverse events: 5 queries."""
    visits = list(participant.visits.order_by("sequence"))
    contents = _contents({visit.protocol_version_id for visit in visits})
    assessments = list(participant.assessments.select_related("visit").order_by("assessed_at"))
    scores = _scores(assessments, contents)
    events = participant.adverse_events.select_related(
        "review_signature", "dosing_session__visit"
    ).order_by("-onset_at", "-pk")
    return ParticipantSafety(
        participant=participant,
        scores=scores,
        visits=_visits(visits, contents, assessments),
        latest_risk_screen=participant.risk_screens.select_related("visit")
        .order_by("-assessed_at", "-pk")
        .first(),
        adverse_events=[AdverseEventLine(event) for event in events],
        chart=scores_chart(scores, time_zone=participant.site.time_zone),
    )


def _contents(version_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not version_ids:
        return {}
    versions = ProtocolVersion.objects.filter(pk__in=version_ids).order_by("pk")
    return dict(versions.values_list("pk", "content"))


def _scores(
    assessments: list[Assessment], contents: dict[int, dict[str, Any]]
) -> list[InstrumentScores]:
    known: dict[str, Instrument] = {}
    for content in contents.values():  # later protocol versions win
        known.update(protocol_instruments(content))
    grouped: dict[str, list[Assessment]] = {}
    for assessment in assessments:
        grouped.setdefault(assessment.instrument, []).append(assessment)
    return [
        InstrumentScores(known.get(code) or _undeclared(code, rows), rows)
        for code, rows in sorted(grouped.items())
    ]


def _undeclared(code: str, rows: list[Assessment]) -> Instrument:
    """A scale no longer in the protocol file: its range is what was recorded."""
    low, high = min(row.score for row in rows), max(row.score for row in rows)
    return Instrument(code, code, low, high if high > low else low + 1)


def _visits(
    visits: list[Visit], contents: dict[int, dict[str, Any]], assessments: list[Assessment]
) -> list[VisitInstruments]:
    by_visit: dict[int, list[Assessment]] = {}
    for assessment in assessments:
        by_visit.setdefault(assessment.visit_id, []).append(assessment)
    rows = []
    for visit in visits:
        instruments = event_instruments(contents[visit.protocol_version_id], visit.event_code)
        if instruments:
            rows.append(VisitInstruments(visit, instruments, by_visit.get(visit.pk, [])))
    return rows
