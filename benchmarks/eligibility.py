"""Screening evaluations per second for 10,000 MAPP1 candidates, beside loading their data."""

from __future__ import annotations

import random
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone

from benchmarks.harness import best_of, report
from screening import rules
from screening.eligibility import evaluator_for
from screening.models import Screening, Verdict
from trials.participants.models import Participant
from trials.study.models import ProtocolVersion, Site, TrialSite
from trials.study.services import protocol_load

CANDIDATES = 10_000
PROTOCOL = Path(__file__).resolve().parents[1] / "trials" / "protocols" / "mapp1.yaml"


def _passing_booleans(criteria: list[dict]) -> dict[str, bool]:
    """For each boolean test in the criteria, the value that does not fail it."""
    wanted = {}
    for criterion in criteria:
        rule = criterion["rule"]
        if rule.get("op") in ("is_true", "is_false"):
            wanted[rule["field"]] = (criterion["kind"] == "inclusion") == (rule["op"] == "is_true")
    return wanted


def _candidate_data(
    fields: list[dict], passing: dict[str, bool], generator: random.Random
) -> dict[str, object]:
    """A realistic mix: most answers pass, a few fail, a few are not recorded yet."""
    data: dict[str, object] = {}
    for field in fields:
        if generator.random() < 0.02:
            continue
        if field["type"] == "boolean":
            data[field["name"]] = passing.get(field["name"], True) ^ (generator.random() < 0.03)
        elif field["type"] == "integer":
            low, high = field.get("min") or 0, field.get("max") or 100
            data[field["name"]] = generator.randint(low + (high - low) // 6, high)
    return data


def _seed() -> ProtocolVersion:
    version, _ = protocol_load(content=PROTOCOL.read_bytes(), filename=PROTOCOL.name, by=None)
    site = Site.objects.create(code="BENCH", name="Bench", time_zone="UTC")
    trial_site = TrialSite.objects.create(
        trial=version.trial, site=site, is_active=True, activated_on=timezone.now().date()
    )
    user = get_user_model().objects.create_user("bench")
    now = timezone.now()
    participants = Participant.objects.bulk_create(
        Participant(
            trial=trial_site.trial,
            site=site,
            number=n,
            study_id=f"MAPP1-BENCH-{n:05d}",
            status=Participant.Status.SCREENING,
            status_changed_at=now,
            created_by=user,
        )
        for n in range(1, CANDIDATES + 1)
    )
    generator = random.Random(20261126)
    fields = version.content["screening"]["fields"]
    passing = _passing_booleans(version.content["screening"]["criteria"])
    Screening.objects.bulk_create(
        Screening(
            participant=participant,
            protocol_version=version,
            started_by=user,
            data=_candidate_data(fields, passing, generator),
            result=Verdict.INCOMPLETE,
        )
        for participant in participants
    )
    return version


def run() -> None:
    version = _seed()
    fields = version.content["screening"]["fields"]
    evaluate = evaluator_for(version)

    def load() -> list:
        return list(Screening.objects.values_list("data", flat=True))

    def load_and_evaluate() -> list:
        verdicts = []
        for data in Screening.objects.values_list("data", flat=True):
            clean, errors = rules.clean_values(fields, data)
            verdicts.append(evaluate(clean))
        return verdicts

    results = load_and_evaluate()
    counts = {result: sum(v.result == result for v in results) for result in Verdict.values}
    measured = best_of(
        "load, validate and evaluate each candidate", load_and_evaluate, items=CANDIDATES
    )
    baseline = best_of("load the candidates' data only (baseline)", load, items=CANDIDATES)
    report(
        f"Eligibility: {CANDIDATES:,} candidates against MAPP1 "
        f"({len(version.content['screening']['criteria'])} criteria)",
        measured,
        baseline,
        note=f"verdicts: {counts}",
    )
    evaluation_only = CANDIDATES / max(measured.seconds - baseline.seconds, 1e-9)
    print(f"  evaluation alone: {evaluation_only:,.0f} candidates/s")
