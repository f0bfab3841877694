"""Rating scales, C-SSRS screens and adverse events through the web pages; the scores chart."""

import datetime
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import PASSWORD, participant_at
from trials.participants.models import Signature
from trials.safety.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, scores_chart
from trials.safety.models import AdverseEvent, Assessment, SuicideRiskScreen
from trials.safety.queries import Instrument, InstrumentScores
from trials.safety.services import (
    adverse_event_report,
    adverse_event_review,
    assessment_record,
    risk_screen_record,
)
from trials.sessions.models import Visit
from trials.sessions.services import dosing_session_start

SVG = "{http://www.w3.org/2000/svg}"
OUTSIDERS = ["coordinator_site_b", "investigator_site_b", "sponsor_user", "coordinator_other_trial"]
NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)
SUMMER = datetime.datetime(2026, 7, 1, 9, 0, tzinfo=datetime.UTC)
NO_ANSWERS = {
    "wish_to_be_dead": "no",
    "suicidal_thoughts": "no",
    "thoughts_with_method": "no",
    "intent": "no",
    "plan": "no",
    "recent_behaviour": "no",
}
AE_FORM = {
    "term": "Panic attack",
    "onset_at": "2026-07-01T14:30",
    "severity": "moderate",
    "relatedness": "probable",
    "action_taken": "treatment_given",
    "outcome": "recovered",
}


def ae_values(**overrides):
    return {
        "term": "Nausea",
        "onset_at": NOW,
        "severity": AdverseEvent.Severity.MILD,
        "relatedness": AdverseEvent.Relatedness.PROBABLE,
        "action_taken": AdverseEvent.ActionTaken.NONE,
        "outcome": AdverseEvent.Outcome.RECOVERED,
        **overrides,
    }


@pytest.fixture
def event_site_a(randomized_site_a, facilitator_site_a):
    """A serious adverse event reported for the randomized participant at site A."""
    return adverse_event_report(
        participant=randomized_site_a,
        values=ae_values(term="Hypertensive crisis", hospitalization=True, onset_at=SUMMER),
        by=facilitator_site_a,
    )


def _pages(participant, event):
    study_id = participant.study_id
    return [
        ("get", reverse("assessment_record", args=[study_id, "BASE"]), {}),
        ("post", reverse("assessment_record", args=[study_id, "BASE"]), {}),
        ("get", reverse("risk_screen_record", args=[study_id]), {}),
        ("post", reverse("risk_screen_record", args=[study_id]), {}),
        ("get", reverse("adverse_event_report", args=[study_id]), {}),
        ("post", reverse("adverse_event_report", args=[study_id]), {}),
        ("get", reverse("adverse_event_detail", args=[event.pk]), {}),
        ("post", reverse("adverse_event_detail", args=[event.pk]), {"action": "correct"}),
        ("post", reverse("adverse_event_detail", args=[event.pk]), {"action": "review"}),
    ]


def _statuses(client, participant, event):
    return {
        f"{method.upper()} {url} {data}": getattr(client, method)(url, data).status_code
        for method, url, data in _pages(participant, event)
    }


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_safety_pages_of_another_site_are_not_found(
    request, client_of, randomized_site_a, event_site_a, outsider
):
    client = client_of(request.getfixturevalue(outsider))
    statuses = _statuses(client, randomized_site_a, event_site_a)
    assert statuses == dict.fromkeys(statuses, 404)


def test_monitor_sees_the_adverse_event_but_writes_nothing(
    client_of, randomized_site_a, event_site_a, monitor
):
    statuses = _statuses(client_of(monitor), randomized_site_a, event_site_a)
    detail = reverse("adverse_event_detail", args=[event_site_a.pk])
    assert statuses.pop(f"GET {detail} {{}}") == 200
    assert statuses == dict.fromkeys(statuses, 403)
    page = client_of(monitor).get(detail)
    assert page.context["correction"] is None and page.context["review"] is None


def test_assessment_page_of_a_visit_without_scales_is_not_found(
    client_of, randomized_site_a, coordinator_site_a
):
    url = reverse("assessment_record", args=[randomized_site_a.study_id, "PREP1"])
    assert client_of(coordinator_site_a).get(url).status_code == 404


# Rating scales


def test_facilitator_records_a_score_typed_in_site_time(
    client_of, randomized_site_a, facilitator_site_a
):
    url = reverse("assessment_record", args=[randomized_site_a.study_id, "BASE"])
    client = client_of(facilitator_site_a)
    page = client.get(url)
    assert [value for value, _ in page.context["form"].fields["instrument"].choices] == [
        "MADRS",
        "QIDS-SR16",
    ]
    response = client.post(
        url, {"instrument": "MADRS", "score": "31", "assessed_at": "2026-07-01T09:15"}
    )
    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert assessment.score == 31
    assert assessment.recorded_by == facilitator_site_a
    # London in summer is UTC+1.
    assert assessment.assessed_at == datetime.datetime(2026, 7, 1, 8, 15, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("instrument", "score", "field", "message"),
    [
        ("MADRS", "75", "score", "less than or equal to 60"),
        ("QIDS-SR16", "28", "score", "between 0 and 27"),
        ("MADRS", "many", "score", "Enter a number"),
        ("CAPS-5", "30", "instrument", "Select a valid choice"),
    ],
)
def test_assessment_form_shows_the_error_and_keeps_the_typed_score(
    client_of, randomized_site_a, coordinator_site_a, instrument, score, field, message
):
    url = reverse("assessment_record", args=[randomized_site_a.study_id, "BASE"])
    response = client_of(coordinator_site_a).post(
        url, {"instrument": instrument, "score": score, "assessed_at": "2026-07-01T09:15"}
    )
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert f'value="{score}"' in response.text
    assert 'value="2026-07-01T09:15"' in response.text
    assert not Assessment.objects.exists()


def test_second_score_of_a_scale_at_a_visit_is_refused_on_the_page(
    client_of, randomized_site_a, coordinator_site_a
):
    url = reverse("assessment_record", args=[randomized_site_a.study_id, "BASE"])
    client = client_of(coordinator_site_a)
    data = {"instrument": "MADRS", "score": "31", "assessed_at": "2026-07-01T09:15"}
    assert client.post(url, data).status_code == 302
    response = client.post(url, {**data, "score": "29"})
    assert "already recorded" in response.text
    assert Assessment.objects.get().score == 31


# C-SSRS


def test_active_ideation_alerts_and_flags_the_participant(
    client_of,
    randomized_site_a,
    coordinator_site_a,
    investigator_site_a,
    django_capture_on_commit_callbacks,
):
    client = client_of(coordinator_site_a)
    url = reverse("risk_screen_record", args=[randomized_site_a.study_id])
    visit = Visit.objects.get(participant=randomized_site_a, event_code="BASE")
    data = {**NO_ANSWERS, "intent": "yes", "assessed_at": "2026-03-02T10:00", "visit": visit.pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data, follow=True)
    assert [message.level_tag for message in response.context["messages"]] == [
        "warning",
        "success",
    ]
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [investigator_site_a.email, "safety@example.org"]
    )
    screen = SuicideRiskScreen.objects.get()
    assert (screen.intent, screen.plan, screen.visit) == (True, False, visit)
    assert 'data-flag="active-ideation"' in response.text


def test_risk_screen_form_requires_every_answer_and_keeps_the_given_ones(
    client_of, randomized_site_a, coordinator_site_a
):
    url = reverse("risk_screen_record", args=[randomized_site_a.study_id])
    client = client_of(coordinator_site_a)
    assert "Actually had any thoughts of killing yourself?" in client.get(url).text
    response = client.post(url, {"wish_to_be_dead": "yes", "assessed_at": "2026-03-02T10:00"})
    errors = response.context["form"].errors
    assert set(errors) == set(NO_ANSWERS) - {"wish_to_be_dead"}
    assert errors["plan"] == ["This field is required."]
    assert re.search(r'name="wish_to_be_dead" value="yes"[^>]*checked', response.text)
    assert not SuicideRiskScreen.objects.exists()


def test_latest_screen_decides_the_flag(client_of, randomized_site_a, coordinator_site_a):
    answers = {name: False for name in NO_ANSWERS}
    for hours, plan in ((2, True), (1, False)):
        risk_screen_record(
            participant=randomized_site_a,
            visit=None,
            answers={**answers, "plan": plan},
            assessed_at=NOW - datetime.timedelta(hours=hours),
            by=coordinator_site_a,
        )
    page = client_of(coordinator_site_a).get(
        reverse("participant_detail", args=[randomized_site_a.study_id])
    )
    assert 'data-flag="active-ideation"' not in page.text
    assert "no suicidal ideation or behaviour" in page.text


# Adverse events


def test_serious_event_reported_in_site_time_is_flagged(
    client_of, randomized_site_a, facilitator_site_a
):
    client = client_of(facilitator_site_a)
    url = reverse("adverse_event_report", args=[randomized_site_a.study_id])
    response = client.post(url, {**AE_FORM, "life_threatening": "on"}, follow=True)
    event = AdverseEvent.objects.get()
    assert response.redirect_chain == [(reverse("adverse_event_detail", args=[event.pk]), 302)]
    assert event.onset_at == datetime.datetime(2026, 7, 1, 13, 30, tzinfo=datetime.UTC)
    assert event.life_threatening and event.reported_by == facilitator_site_a
    assert "2026-07-01 14:30" in response.text
    assert "Expedited reporting" in response.text
    assert "Awaiting investigator signature" in response.text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"term": ""}, "term", "This field is required."),
        ({"onset_at": "2026-02-30T10:00"}, "onset_at", "Enter a valid date/time."),
        ({"ended_at": "2026-07-01T12:00"}, None, "An event ends after it starts."),
        ({"outcome": "fatal"}, None, "A fatal outcome means the event resulted in death."),
    ],
)
def test_adverse_event_form_shows_the_error_and_keeps_the_typed_values(
    client_of, randomized_site_a, coordinator_site_a, overrides, field, message
):
    url = reverse("adverse_event_report", args=[randomized_site_a.study_id])
    response = client_of(coordinator_site_a).post(url, {**AE_FORM, **overrides})
    errors = response.context["form"].errors
    assert message in errors[field or "__all__"]
    assert f'value="{overrides.get("onset_at", AE_FORM["onset_at"])}"' in response.text
    assert 'value="treatment_given" selected' in response.text
    assert not AdverseEvent.objects.exists()


def test_adverse_event_form_offers_only_the_participants_dosing_sessions(
    client_of, booked_dosing_site_a, trial_site_a, coordinator_site_a
):
    session = dosing_session_start(visit=booked_dosing_site_a, by=coordinator_site_a)
    other = participant_at(trial_site_a, coordinator_site_a, given_name="Robin")
    client = client_of(coordinator_site_a)
    own = reverse("adverse_event_report", args=[session.participant.study_id])
    assert list(client.get(own).context["form"].fields["dosing_session"].queryset) == [session]
    url = reverse("adverse_event_report", args=[other.study_id])
    response = client.post(url, {**AE_FORM, "dosing_session": session.pk})
    assert "Select a valid choice" in response.context["form"].errors["dosing_session"][0]
    assert not AdverseEvent.objects.exists()


def test_investigator_signs_the_review_with_the_password(
    client_of, event_site_a, investigator_site_a
):
    client = client_of(investigator_site_a)
    url = reverse("adverse_event_detail", args=[event_site_a.pk])
    response = client.post(url, {"action": "review", "password": "not my password"})
    assert "password is not correct" in response.context["review"].errors["password"][0]
    assert not Signature.objects.filter(meaning="adverse_event_reviewed").exists()
    response = client.post(url, {"action": "review", "password": PASSWORD}, follow=True)
    name = investigator_site_a.get_full_name()
    assert f"Adverse event reviewed</strong> — signed by {name}" in response.text
    assert "Awaiting investigator signature" not in response.text
    assert response.context["review"] is None


@pytest.mark.parametrize("person", ["coordinator_site_a", "facilitator_site_a"])
def test_only_investigators_review(request, client_of, event_site_a, person):
    client = client_of(request.getfixturevalue(person))
    url = reverse("adverse_event_detail", args=[event_site_a.pk])
    assert client.get(url).context["review"] is None
    assert client.post(url, {"action": "review", "password": PASSWORD}).status_code == 403
    event_site_a.refresh_from_db()
    assert event_site_a.review_signature is None


def test_correction_needs_a_reason_and_voids_the_review(
    client_of, event_site_a, investigator_site_a, coordinator_site_a
):
    adverse_event_review(event=event_site_a, investigator=investigator_site_a, password=PASSWORD)
    client = client_of(coordinator_site_a)
    url = reverse("adverse_event_detail", args=[event_site_a.pk])
    form = client.get(url).context["correction"]
    assert form["onset_at"].value() == datetime.datetime(2026, 7, 1, 10, 0)  # London in summer
    data = {**AE_FORM, "term": "Hypertensive urgency", "hospitalization": "on"}
    response = client.post(url, {**data, "action": "correct"})
    assert "reason" in response.context["correction"].errors
    assert 'value="Hypertensive urgency"' in response.text
    response = client.post(url, {**data, "action": "correct", "reason": "Cardiology letter"})
    assert response.status_code == 302
    event_site_a.refresh_from_db()
    assert event_site_a.term == "Hypertensive urgency"
    assert event_site_a.review_signature is None
    assert "Awaiting investigator signature" in client.get(url).text


def test_unknown_action_is_a_bad_request(client_of, event_site_a, coordinator_site_a):
    url = reverse("adverse_event_detail", args=[event_site_a.pk])
    assert client_of(coordinator_site_a).post(url, {"action": "delete"}).status_code == 400


# The participant page


def _chart(html):
    match = re.search(r"<svg[^>]*id=\"scores-chart\".*?</svg>", html, re.S)
    assert match, "no scores chart on the page"
    return ET.fromstring(match.group(0))


def test_participant_page_shows_the_scores_chart_and_the_adverse_events(
    client_of, randomized_site_a, event_site_a, coordinator_site_a
):
    visit = Visit.objects.get(participant=randomized_site_a, event_code="BASE")
    for instrument, score in (("MADRS", Decimal(32)), ("QIDS-SR16", Decimal("13.5"))):
        assessment_record(
            visit=visit, instrument=instrument, score=score, assessed_at=NOW, by=coordinator_site_a
        )
    page = client_of(coordinator_site_a).get(
        reverse("participant_detail", args=[randomized_site_a.study_id])
    )
    svg = _chart(page.text)
    series = svg.findall(f"{SVG}g")
    assert [group.get("data-instrument") for group in series] == ["MADRS", "QIDS-SR16"]
    titles = [title.text for title in svg.iter(f"{SVG}title")]
    assert "MADRS 32 at Baseline, 2026-03-02" in titles
    assert "QIDS-SR16 13.5 at Baseline, 2026-03-02" in titles
    captions = [text.text for text in svg.iter(f"{SVG}text")]
    assert "Date assessed (Europe/London)" in captions
    assert "MADRS 0–60" in captions and "QIDS-SR16 0–27" in captions
    assert "Hypertensive crisis" in page.text
    assert "Expedited reporting" in page.text
    assert "Awaiting investigator signature" in page.text
    assert reverse("assessment_record", args=[randomized_site_a.study_id, "BASE"]) not in page.text


def test_record_links_are_for_the_site_team_only(
    client_of, randomized_site_a, coordinator_site_a, monitor
):
    url = reverse("participant_detail", args=[randomized_site_a.study_id])
    record = reverse("assessment_record", args=[randomized_site_a.study_id, "BASE"])
    report = reverse("adverse_event_report", args=[randomized_site_a.study_id])
    assert record in client_of(coordinator_site_a).get(url).text
    monitor_page = client_of(monitor).get(url).text
    assert record not in monitor_page and report not in monitor_page
    assert 'id="safety"' in monitor_page


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_participant_page_queries_do_not_grow_with_safety_data(
    client_of, randomized_site_a, coordinator_site_a, investigator_site_a
):
    client = client_of(coordinator_site_a)
    url = reverse("participant_detail", args=[randomized_site_a.study_id])
    client.get(url)  # warm the per-process caches (content types) first
    before = _queries(client, url)
    visit = Visit.objects.get(participant=randomized_site_a, event_code="BASE")
    for instrument in ("MADRS", "QIDS-SR16"):
        assessment_record(
            visit=visit,
            instrument=instrument,
            score=Decimal(20),
            assessed_at=NOW,
            by=coordinator_site_a,
        )
    for hours in range(3):
        risk_screen_record(
            participant=randomized_site_a,
            visit=visit,
            answers={name: False for name in NO_ANSWERS},
            assessed_at=NOW + datetime.timedelta(hours=hours),
            by=coordinator_site_a,
        )
    for number in range(4):
        event = adverse_event_report(
            participant=randomized_site_a,
            values=ae_values(term=f"Headache {number}", hospitalization=number % 2 == 0),
            by=coordinator_site_a,
        )
        if number < 2:
            adverse_event_review(event=event, investigator=investigator_site_a, password=PASSWORD)
    assert _queries(client, url) == before
    page = client.get(url)
    assert page.text.count('<li class="adverse-event') == 4
    assert page.text.count("Awaiting investigator signature") == 2
    assert "(4, 2 serious, 2 awaiting signature)" in page.text
    assert 'id="scores-chart"' in page.text and "at Baseline" in page.text


# The chart, without the database


def _line(code, lowest, highest, *scores):
    instrument = Instrument(code, code, Decimal(lowest), Decimal(highest))
    rows = [
        Assessment(
            instrument=code,
            score=Decimal(score),
            assessed_at=NOW + datetime.timedelta(days=7 * index),
            visit=Visit(label=f"Week {index}"),
        )
        for index, score in enumerate(scores)
    ]
    return InstrumentScores(instrument, rows)


def _ys(chart, code):
    series = next(s for s in chart.series if s.code == code)
    return [float(point.y) for point in series.markers]


def test_chart_scales_each_scale_to_its_own_range():
    chart = scores_chart(
        [_line("MADRS", 0, 60, 60, 30, 0), _line("QIDS-SR16", 0, 27, 27, 0)], time_zone="UTC"
    )
    bottom = HEIGHT - BOTTOM
    assert _ys(chart, "MADRS") == [TOP, (TOP + bottom) / 2, bottom]
    assert _ys(chart, "QIDS-SR16") == [TOP, bottom]
    assert [tick.label for tick in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]


def test_chart_of_one_scale_labels_its_axis_in_points():
    chart = scores_chart([_line("MADRS", 0, 60, 40)], time_zone="America/New_York")
    assert [tick.label for tick in chart.y_ticks] == ["0", "15", "30", "45", "60"]
    assert chart.y_caption.label == "MADRS total"
    # 10:00 UTC is 05:00 in New York: the same date, and one date sits in the middle.
    assert [tick.label for tick in chart.x_ticks] == ["2026-03-02"]
    assert float(chart.series[0].markers[0].x) == (LEFT + WIDTH - RIGHT) / 2


def test_chart_spreads_dates_and_keeps_at_most_five_labels():
    chart = scores_chart([_line("MADRS", 0, 60, *range(10, 60, 5))], time_zone="UTC")
    xs = [float(point.x) for point in chart.series[0].markers]
    assert xs == sorted(xs) and xs[0] == LEFT and xs[-1] == WIDTH - RIGHT
    labels = [tick.label for tick in chart.x_ticks]
    assert len(labels) == 5 and labels[0] == "2026-03-02" and labels[-1] == "2026-05-04"


def test_no_scores_no_chart():
    assert scores_chart([], time_zone="UTC") is None
