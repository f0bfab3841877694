"""The trial dashboard: CONSORT flow, enrollment over time, the coming week; scoped, blinded."""

import datetime
import re
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from screening.services import screening_record, screening_start
from tests.conftest import make_eligible
from tests.factories import COMP360_ELIGIBLE_DATA, MembershipFactory, participant_at
from tests.trials.test_enrollment import _consent
from trials.dashboards.queries import dashboard_for
from trials.enrollment.models import ConsentFormVersion
from trials.enrollment.services import participant_exit, participant_randomize
from trials.participants.models import Participant
from trials.participants.services import participant_change_status
from trials.sessions.models import Visit
from trials.study.models import Role, Trial

SVG = "{http://www.w3.org/2000/svg}"
# Screening data failing the named criteria of the COMP360 protocol.
FAILING: dict[str, dict[str, Any]] = {
    "I1": {"age_years": 17},
    "I2": {"mdd_current_episode": False},
    "I5": {"madrs_total_screening": 12},
    "I7": {"failed_adequate_treatments_current_episode": 1},
    "E1": {"lifetime_excluded_personality_disorder": True},
    "E2": {"ongoing_serious_psychiatric_comorbidity": True},
}
STAGES = [
    "candidate",
    "screening",
    "screen_failed",
    "eligible",
    "consented",
    "randomized",
    "dosed",
    "withdrawn",
    "completed",
]


class Cast:
    """The people of one site, enough to take a participant to any stage."""

    def __init__(self, trial_site, coordinator, investigator, consent_form):
        self.trial_site = trial_site
        self.coordinator = coordinator
        self.investigator = investigator
        self.consent_form = consent_form

    def screen_out(self, *criteria: str, participant: Participant | None = None) -> Participant:
        """A participant (new unless given) screened and failing the given criteria."""
        participant = participant or participant_at(self.trial_site, self.coordinator)
        screening = screening_start(participant=participant, by=self.coordinator)
        values = dict(COMP360_ELIGIBLE_DATA)
        for criterion in criteria:
            values.update(FAILING[criterion])
        screening_record(screening=screening, values=values, by=self.coordinator)
        return participant

    def at(self, stage: str, **consent: object) -> Participant:
        """A new participant taken through the services to the given stage."""
        participant = participant_at(self.trial_site, self.coordinator)
        if stage == "candidate":
            return participant
        if stage == "screening":
            screening_start(participant=participant, by=self.coordinator)
            return participant
        if stage == "screen_failed":
            return self.screen_out("I7", participant=participant)
        make_eligible(participant, self.coordinator, self.investigator)
        if stage == "eligible":
            return participant
        _consent(participant, self.consent_form, self.coordinator, **consent)
        if stage != "consented":
            participant_randomize(participant=participant, by=self.coordinator)
        self._after_randomization(participant, stage)
        return participant

    def _after_randomization(self, participant: Participant, stage: str) -> None:
        if stage in ("dosed", "completed"):
            # Dosing is not logged through a service yet: the dosing visit is marked done.
            Visit.objects.filter(participant=participant, event_code="DOSE1").update(
                status=Visit.Status.COMPLETED
            )
            participant_change_status(
                participant=participant,
                to_status=Participant.Status.IN_TREATMENT,
                reason="First administration given",
                by=self.coordinator,
            )
        if stage in ("withdrawn", "completed"):
            participant_exit(
                participant=participant,
                kind=stage,
                reason="withdrew_consent" if stage == "withdrawn" else "completed_per_protocol",
                details="",
                exited_on=timezone.now().date(),
                by=self.coordinator,
            )


@pytest.fixture
def london(comp360_protocol, trial_site_a, coordinator_site_a, investigator_site_a, consent_form):
    return Cast(trial_site_a, coordinator_site_a, investigator_site_a, consent_form)


@pytest.fixture
def new_york(comp360_protocol, trial_site_b, coordinator_site_b, investigator_site_b, consent_form):
    return Cast(trial_site_b, coordinator_site_b, investigator_site_b, consent_form)


def _page(client, trial_code: str = "COMP360-TRD-P3"):
    return client.get(reverse("trial_dashboard", args=[trial_code]))


def _table(html: str, table_id: str) -> str:
    table = re.search(rf'<table class="numbers" id="{table_id}">(.*?)</table>', html, re.S)
    assert table, f"no table {table_id}"
    return table.group(1)


def _numbers(html: str, table_id: str) -> dict[str, int]:
    """A numbers table as {row key: first count}, rows keyed by their data-* attribute."""
    rows = re.findall(
        r'<tr[^>]* data-[a-z]+="([^"]+)">.*?<td class="count">(\d+)</td>', _table(html, table_id)
    )
    return {key: int(count) for key, count in rows}


def _svgs(html: str) -> list[ElementTree.Element]:
    return [ElementTree.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", html, re.S)]


def test_the_flow_counts_every_step_from_screening_to_exit(client_of, monitor, london, new_york):
    for stage in STAGES:
        london.at(stage)
    new_york.at("randomized")
    numbers = _numbers(_page(client_of(monitor)).text, "consort-numbers")
    assert {step: numbers[step] for step in numbers if not step[0].isupper()} == {
        "screened": 9,
        "screen_failed": 1,
        "eligible": 7,
        "consented": 6,
        "randomized": 5,
        "dosed": 2,
        "completed": 1,
        "withdrawn": 1,
        "lost_to_follow_up": 0,
    }


def test_screen_failures_list_the_five_most_failed_criteria_with_their_text(
    client_of, monitor, london
):
    london.screen_out("I7", "I5", "E2", "I1", "E1", "I2")
    london.screen_out("I7", "I5", "E2", "I1")
    london.screen_out("I7", "I5")
    london.screen_out("I7")
    page = _page(client_of(monitor)).text
    numbers = _numbers(page, "consort-numbers")
    assert [(key, count) for key, count in numbers.items() if key[0].isupper()] == [
        ("I7", 4),
        ("I5", 3),
        ("E2", 2),
        ("I1", 2),
        ("E1", 1),
    ]
    assert "I5: MADRS total at least 20 at screening" in page
    assert numbers["screen_failed"] == 4


def test_a_rescreened_participant_counts_only_their_current_failures(client_of, monitor, london):
    participant = london.screen_out("I1")
    screening = screening_start(participant=participant, by=london.coordinator)
    values = {**COMP360_ELIGIBLE_DATA, **FAILING["E1"]}
    screening_record(screening=screening, values=values, by=london.coordinator)
    numbers = _numbers(_page(client_of(monitor)).text, "consort-numbers")
    assert "I1" not in numbers and numbers["E1"] == 1
    assert numbers["screened"] == 1


def test_site_staff_see_only_their_own_sites_numbers(
    client_of, coordinator_site_b, london, new_york
):
    london.at("randomized")
    london.at("screen_failed")
    new_york.at("consented")
    page = _page(client_of(coordinator_site_b)).text
    numbers = _numbers(page, "consort-numbers")
    assert (numbers["screened"], numbers["consented"], numbers["randomized"]) == (1, 1, 0)
    assert "I7" not in numbers
    assert set(_numbers(page, "week-numbers")) == {"NYC"}
    assert set(_numbers(page, "enrollment-numbers")) == {"NYC", "target"}
    assert "London" not in page


@pytest.mark.parametrize("who", ["monitor", "sponsor_user"])
def test_monitors_and_sponsors_see_every_site(request, client_of, london, new_york, who):
    london.at("randomized")
    new_york.at("randomized")
    page = _page(client_of(request.getfixturevalue(who))).text
    assert _numbers(page, "consort-numbers")["randomized"] == 2
    assert _numbers(page, "enrollment-numbers") == {"LON": 1, "NYC": 1, "target": 568}
    assert "Numbers for all sites" in page


def test_a_monitor_tied_to_a_site_sees_that_site_only(client_of, trial, site_b, london, new_york):
    site_monitor = MembershipFactory(trial=trial, site=site_b, role=Role.MONITOR).user
    london.at("randomized")
    new_york.at("eligible")
    numbers = _numbers(_page(client_of(site_monitor)).text, "consort-numbers")
    assert (numbers["eligible"], numbers["randomized"]) == (1, 0)


@pytest.mark.parametrize(
    ("who", "open_label", "sees_arms"),
    [
        ("monitor", False, False),
        ("sponsor_user", False, False),
        ("coordinator_site_a", True, False),
        ("investigator_site_a", True, False),
        ("monitor", True, True),
        ("sponsor_user", True, True),
    ],
)
def test_arm_counts_only_for_monitors_and_sponsors_of_open_label_trials(
    request, client_of, trial, london, who, open_label, sees_arms
):
    london.at("randomized")
    Trial.objects.filter(pk=trial.pk).update(open_label=open_label)
    page = _page(client_of(request.getfixturevalue(who))).text
    numbers = _numbers(page, "consort-numbers")
    assert numbers["randomized"] == 1
    arms = {key: count for key, count in numbers.items() if key in {"P25", "P10", "P1"}}
    assert (sum(arms.values()) == 1) is sees_arms
    assert ("COMP360 25 mg" in page) is sees_arms
    assert ("Arms are masked" in page) is not sees_arms


def test_the_page_names_no_participant(client_of, monitor, coordinator_site_a, london):
    participants = [london.at("randomized"), london.at("screen_failed")]
    for user in (monitor, coordinator_site_a):
        page = _page(client_of(user)).text
        for participant in participants:
            assert participant.study_id not in page
        assert "Vandermolen-Quist" not in page


def test_the_dashboard_of_another_trial_is_not_found(client_of, coordinator_other_trial, london):
    london.at("randomized")
    client = client_of(coordinator_other_trial)
    assert _page(client).status_code == 404
    assert _page(client, "NO-SUCH-TRIAL").status_code == 404
    assert _page(client, "MAPP1").status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client, trial):
    response = _page(client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_every_chart_is_well_formed_accessible_svg_without_scripts(client_of, monitor, london):
    london.at("dosed")
    london.at("screen_failed")
    page = _page(client_of(monitor)).text
    charts = _svgs(page)
    assert [chart.get("id") for chart in charts] == [
        "consort-figure",
        "enrollment-figure",
        "visits-figure",
    ]
    for chart in charts:
        assert chart.get("role") == "img"
        assert chart.find(f"{SVG}title").text
        assert chart.find(f"{SVG}desc").text
    assert "<script" not in page.split("</head>")[1]
    assert not re.search(r'(src|href)="https?://', page)


def test_the_flow_diagram_draws_a_box_and_a_count_for_every_step(client_of, monitor, london):
    london.at("withdrawn")
    consort = _svgs(_page(client_of(monitor)).text)[0]
    labels = [text.text for text in consort.iter(f"{SVG}text") if text.get("class") == "label"]
    assert labels == [
        "Screened",
        "Screen failed",
        "Eligible",
        "Consented",
        "Randomized",
        "Dosed",
        "Completed",
        "Withdrawn",
        "Lost to follow-up",
    ]
    assert len(list(consort.iter(f"{SVG}rect"))) == len(labels)
    arrows = [line for line in consort.iter(f"{SVG}polyline") if line.get("marker-end")]
    assert len(arrows) == 8


def test_enrollment_is_cumulative_per_site_by_week(
    monkeypatch, client_of, monitor, london, new_york
):
    now = timezone.now()
    consented = now - datetime.timedelta(days=20)
    early = [london.at("consented", consented_at=consented) for _ in range(2)]
    late = new_york.at("consented", consented_at=consented)
    monkeypatch.setattr(timezone, "now", lambda: now - datetime.timedelta(days=14))
    for participant in early:
        participant_randomize(participant=participant, by=london.coordinator)
    monkeypatch.setattr(timezone, "now", lambda: now - datetime.timedelta(days=7))
    participant_randomize(participant=late, by=new_york.coordinator)
    monkeypatch.undo()

    enrollment = dashboard_for(london.trial_site.trial, monitor).enrollment
    week_of = {week: index for index, week in enumerate(enrollment.weeks)}
    this_week = enrollment.weeks[-1]
    assert enrollment.weeks[0] == datetime.date(2026, 1, 5)
    assert this_week <= now.date() < this_week + datetime.timedelta(days=7)
    two_weeks_ago = week_of[this_week - datetime.timedelta(weeks=2)]
    by_site = {site.code: site.cumulative for site in enrollment.sites}
    assert by_site["LON"][two_weeks_ago - 1 :] == [0, 2, 2, 2]
    assert by_site["NYC"][two_weeks_ago - 1 :] == [0, 0, 1, 1]
    assert enrollment.total[-1] == 3

    chart = _svgs(_page(client_of(monitor)).text)[1]
    titled = {
        line.get("class"): line.find(f"{SVG}title").text
        for line in chart.iter(f"{SVG}polyline")
        if line.find(f"{SVG}title") is not None
    }
    assert titled == {
        "series series-0": "LON: 2 randomized",
        "series series-1": "NYC: 1 randomized",
        "series total": "All sites: 3 randomized",
        "rule target": "Target 568",
        "rule cap": "Cap 20 (LON, NYC)",
    }


def test_visits_due_in_the_coming_week_are_counted_per_site(client_of, monitor, london, new_york):
    london.at("randomized")
    new_york.at("consented")
    page = _page(client_of(monitor)).text
    # Baseline today, preparation sessions on days 2 and 5; the first dose window opens day 7.
    assert _numbers(page, "week-numbers") == {"LON": 3, "NYC": 0}
    bars = _svgs(page)[2]
    assert len([rect for rect in bars.iter(f"{SVG}rect")]) == 2


def test_participants_needing_reconsent_are_counted_per_site(
    client_of, monitor, trial, london, new_york
):
    london.at("randomized")
    new_york.at("consented")
    new_york.at("eligible")
    today = timezone.now().date()
    ConsentFormVersion.objects.create(
        trial=trial, label="ICF v2", approved_on=today, effective_from=today
    )
    rows = re.findall(
        r'<tr data-site="(\w+)">.*?<td class="count">(\d+)</td><td class="count">(\d+)</td>',
        _table(_page(client_of(monitor)).text, "week-numbers"),
    )
    assert [(site, int(needs)) for site, _due, needs in rows] == [("LON", 1), ("NYC", 1)]


def test_the_page_needs_the_same_queries_for_one_or_thirty_participants(
    client_of, django_assert_max_num_queries, monitor, london, new_york
):
    london.at("randomized")
    readers = {"monitor": monitor, "coordinator_b": new_york.coordinator}
    first = {}
    for name, user in readers.items():
        client = client_of(user)
        with django_assert_max_num_queries(15) as queries:
            _page(client)
        first[name] = len(queries.captured_queries)
    for index in range(29):
        (london if index % 2 else new_york).at(STAGES[index % len(STAGES)])
    assert Participant.objects.count() == 30
    for name, user in readers.items():
        client = client_of(user)
        with django_assert_max_num_queries(first[name]) as queries:
            page = _page(client)
        assert len(queries.captured_queries) == first[name]
        assert _numbers(page.text, "consort-numbers")["screened"] > 1


def test_home_links_every_membership_to_its_trial_dashboard(client_of, monitor, sponsor_user):
    for user in (monitor, sponsor_user):
        page = client_of(user).get(reverse("home")).text
        assert f'href="{reverse("trial_dashboard", args=["COMP360-TRD-P3"])}"' in page
