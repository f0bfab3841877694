"""seed_demo, run as an operator would; with --participants N, a realistic volume of demo
participants."""

import re
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count

from screening.models import Screening
from trials.enrollment.models import AllocationList, AllocationSlot, Consent, StudyExit
from trials.enrollment.randomization import permuted_blocks
from trials.participants.models import Participant
from trials.sessions.models import Visit
from trials.study.models import Membership, Trial, TrialSite

pytestmark = pytest.mark.slow  # 200 participants seeded for each test
Status = Participant.Status
TRIAL = "COMP360-TRD-P3"
DEFAULT_CANDIDATES = 3


def _seed(capsys, participants: int) -> str:
    call_command("seed_demo", "--participants", str(participants), "--quiet")
    return capsys.readouterr().out.strip()


@pytest.fixture
def seeded(db, capsys):
    """The demo data topped up to 200 COMP360 participants."""
    _seed(capsys, 200)
    return Participant.objects.filter(trial__code=TRIAL)


def test_participants_are_topped_up_to_n_and_a_second_run_adds_none(db, capsys):
    assert _seed(capsys, 60) == f"Created {60 - DEFAULT_CANDIDATES} demo participants in {TRIAL}."
    assert Participant.objects.filter(trial__code=TRIAL).count() == 60
    assert _seed(capsys, 60) == f"Created 0 demo participants in {TRIAL}."
    assert _seed(capsys, 50) == f"Created 0 demo participants in {TRIAL}."
    assert _seed(capsys, 80) == f"Created 20 demo participants in {TRIAL}."
    assert Participant.objects.filter(trial__code=TRIAL).count() == 80


def test_without_the_option_no_participant_is_added(db, capsys):
    call_command("seed_demo", "--quiet")
    assert capsys.readouterr().out == ""
    assert Participant.objects.count() == DEFAULT_CANDIDATES


def test_participants_are_spread_over_the_trials_sites(seeded):
    by_site = dict(seeded.values_list("site__code").annotate(n=Count("pk")))
    # 197 created: 99 at LON (the odd one first), 98 at NYC; the default candidates are at LON.
    assert by_site == {"LON": DEFAULT_CANDIDATES + 99, "NYC": 98}


def test_study_ids_are_unique_and_the_site_counters_move_past_them(seeded, capsys):
    _seed(capsys, 230)
    rows = list(seeded.values_list("study_id", "site__code", "number"))
    assert len({study_id for study_id, _, _ in rows}) == len(rows) == 230
    for study_id, site, number in rows:
        assert re.fullmatch(rf"{TRIAL}-{site}-\d{{4,}}", study_id)
        assert int(study_id.rsplit("-", 1)[1]) == number
    for trial_site in TrialSite.objects.filter(trial__code=TRIAL).select_related("site"):
        numbers = [number for _, site, number in rows if site == trial_site.site.code]
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
        assert trial_site.next_participant_number == max(numbers) + 1


def test_statuses_spread_over_the_whole_flow(seeded):
    created = seeded.exclude(status=Status.CANDIDATE)
    share = {
        status: count / created.count()
        for status, count in Counter(created.values_list("status", flat=True)).items()
    }
    in_study = (Status.RANDOMIZED, Status.IN_TREATMENT, Status.FOLLOW_UP)
    exited = (Status.WITHDRAWN, Status.COMPLETED, Status.LOST_TO_FOLLOW_UP)
    assert share[Status.SCREEN_FAILED] == pytest.approx(0.40, abs=0.04)
    assert share[Status.SCREENING] == pytest.approx(0.10, abs=0.03)
    assert share[Status.ELIGIBLE] == pytest.approx(0.10, abs=0.03)
    assert share[Status.CONSENTED] == pytest.approx(0.10, abs=0.03)
    assert sum(share.get(status, 0) for status in in_study) == pytest.approx(0.25, abs=0.04)
    assert sum(share.get(status, 0) for status in exited) == pytest.approx(0.05, abs=0.02)
    assert share[Status.IN_TREATMENT] > 0


def test_screenings_hold_the_rule_engines_verdict_for_each_status(seeded):
    created = seeded.exclude(status=Status.CANDIDATE)
    screenings = Screening.objects.filter(participant__in=created)
    assert screenings.count() == created.count()
    failed = screenings.filter(participant__status=Status.SCREEN_FAILED)
    assert set(failed.values_list("result", flat=True)) == {"ineligible"}
    assert all(failed.values_list("failed", flat=True))
    unfinished = screenings.filter(participant__status=Status.SCREENING)
    assert set(unfinished.values_list("result", flat=True)) == {"incomplete"}
    past_screening = created.exclude(status__in=[Status.SCREEN_FAILED, Status.SCREENING])
    assert not past_screening.filter(eligibility_signature__isnull=True).exists()
    assert set(past_screening.values_list("screenings__result", flat=True)) == {"eligible"}


def test_consents_allocations_visits_and_exits_match_each_status(seeded):
    created = seeded.exclude(status=Status.CANDIDATE)
    consented = created.exclude(
        status__in=[Status.SCREEN_FAILED, Status.SCREENING, Status.ELIGIBLE]
    )
    assert Consent.objects.count() == consented.count()
    randomized = consented.exclude(status=Status.CONSENTED)
    assert AllocationSlot.objects.filter(participant__isnull=False).count() == randomized.count()
    assert not randomized.filter(allocation__isnull=True).exists()
    assert Visit.objects.count() == 13 * randomized.count()
    exited = created.filter(
        status__in=[Status.WITHDRAWN, Status.COMPLETED, Status.LOST_TO_FOLLOW_UP]
    )
    assert set(StudyExit.objects.values_list("participant", flat=True)) == set(
        exited.values_list("pk", flat=True)
    )
    assert not Visit.objects.filter(participant__in=exited, status="scheduled").exists()


def test_allocations_follow_each_sites_recorded_list_in_order(seeded):
    for allocation_list in AllocationList.objects.all():
        slots = list(allocation_list.slots.order_by("sequence").select_related("arm"))
        expected = permuted_blocks(
            allocation_list.seed, allocation_list.ratio, allocation_list.block_sizes, len(slots)
        )
        assert [(s.arm.code, s.kit_code) for s in slots] == [
            (e.arm, e.kit_code) for e in expected[: len(slots)]
        ]
        given = [slot.allocated_at for slot in slots if slot.participant_id]
        assert given == sorted(given)
        site = allocation_list.stratum.removeprefix("site=")
        assert not allocation_list.slots.exclude(participant__site__code=site).filter(
            participant__isnull=False
        )


def test_the_dashboard_counts_the_demo_volume(seeded, client):
    client.force_login(get_user_model().objects.get(username="monitor"))
    page = client.get(f"/trials/{TRIAL}/dashboard").text
    screened = re.search(r'data-step="screened">.*?<td class="count">(\d+)</td>', page)
    assert int(screened.group(1)) == 200 - DEFAULT_CANDIDATES


def test_seed_demo_is_idempotent(db, capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "coordinator.lon" in out and "dyad-demo-2026" in out
    counts = (Trial.objects.count(), Membership.objects.count(), Participant.objects.count())
    call_command("seed_demo", "--quiet")
    assert capsys.readouterr().out == ""
    assert (
        Trial.objects.count(),
        Membership.objects.count(),
        Participant.objects.count(),
    ) == counts
    assert counts[0] == 2 and counts[2] == 3
