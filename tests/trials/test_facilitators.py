"""Facilitators' pages: their sessions, their calendar feed, their credentials; dosing teams."""

import datetime
import re
import zoneinfo

import icalendar
import pytest
from django.urls import reverse
from django.utils import timezone
from pghistory.models import Events

from tests.conftest import make_eligible, randomize_on_a_short_list
from tests.factories import (
    FacilitatorFactory,
    LicenceFactory,
    MembershipFactory,
    TrainingFactory,
    UserFactory,
)
from tests.trials.test_enrollment import _consent
from trials.enrollment.services import participant_exit
from trials.facilitators.models import Facilitator
from trials.sessions.models import Visit
from trials.sessions.services import visit_book
from trials.study.models import Membership, Role

LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def _today():
    """Today in London, where the cast's site A is."""
    return timezone.localdate(timezone=LONDON)


def _facilitator(username, first, last, *trial_sites, licence_expires=None, hours=120):
    """A facilitator at the trial sites, with a licence and training on record."""
    user = UserFactory(username=username, first_name=first, last_name=last)
    for trial_site in trial_sites:
        MembershipFactory(
            user=user, trial=trial_site.trial, site=trial_site.site, role=Role.FACILITATOR
        )
    facilitator = FacilitatorFactory(user=user)
    expires = licence_expires or _today() + datetime.timedelta(days=900)
    LicenceFactory(facilitator=facilitator, expires_on=expires)
    TrainingFactory(facilitator=facilitator, hours=hours)
    return facilitator


def _randomize(participant, consent_form, coordinator):
    _consent(participant, consent_form, coordinator)
    randomize_on_a_short_list(participant, coordinator)
    participant.refresh_from_db()
    return participant


def _book(participant, event_code, coordinator, facilitators, *, at="09:30", days=0, **extra):
    """Book a visit through the service at a local time on its target day (plus days)."""
    visit = Visit.objects.get(participant=participant, event_code=event_code)
    day = visit.target_date + datetime.timedelta(days=days)
    starts_at = datetime.datetime.combine(
        day, datetime.time.fromisoformat(at), tzinfo=zoneinfo.ZoneInfo(participant.site.time_zone)
    )
    extra.setdefault("room", "Dosing suite 1")
    return visit_book(
        visit=visit, starts_at=starts_at, facilitators=facilitators, by=coordinator, **extra
    )


@pytest.fixture
def lead_facilitator_a(facilitator_site_a, trial_site_a):
    """The cast's site A facilitator (Maya Lindqvist), licensed and trained."""
    facilitator = FacilitatorFactory(user=facilitator_site_a)
    facilitator_site_a.first_name, facilitator_site_a.last_name = "Maya", "Lindqvist"
    facilitator_site_a.save()
    LicenceFactory(facilitator=facilitator, expires_on=_today() + datetime.timedelta(days=900))
    TrainingFactory(facilitator=facilitator, hours=120)
    return facilitator


@pytest.fixture
def co_facilitator_a(trial_site_a):
    return _facilitator("co_facilitator_a", "Jonas", "Eriksen", trial_site_a)


@pytest.fixture
def lapsed_facilitator_a(trial_site_a):
    lapsed = _today() - datetime.timedelta(days=10)
    return _facilitator(
        "lapsed_facilitator_a", "Robin", "Okafor", trial_site_a, licence_expires=lapsed
    )


@pytest.fixture
def trainee_facilitator_a(trial_site_a):
    return _facilitator("trainee_facilitator_a", "Priya", "Nair", trial_site_a, hours=40)


@pytest.fixture
def other_facilitator_b(trial_site_b):
    return _facilitator("other_facilitator_b", "Tom", "Becker", trial_site_b)


@pytest.fixture
def randomized_site_a(eligible_site_a, consent_form, coordinator_site_a):
    return _randomize(eligible_site_a, consent_form, coordinator_site_a)


@pytest.fixture
def dosing_booked_a(randomized_site_a, coordinator_site_a, lead_facilitator_a, co_facilitator_a):
    """Administration 1 booked at 09:30 London time with the lead and co-facilitator."""
    return _book(
        randomized_site_a, "DOSE1", coordinator_site_a, [lead_facilitator_a, co_facilitator_a]
    )


@pytest.fixture
def randomized_site_b(
    comp360_protocol, participant_site_b, consent_form, coordinator_site_b, investigator_site_b
):
    participant = make_eligible(participant_site_b, coordinator_site_b, investigator_site_b)
    return _randomize(participant, consent_form, coordinator_site_b)


def _home(client):
    return client.get(reverse("facilitator_home"))


def _feed(client, facilitator):
    facilitator.refresh_from_db()
    response = client.get(reverse("facilitator_calendar", args=[facilitator.calendar_token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return response, icalendar.Calendar.from_ical(response.content)


def _events(response):
    return icalendar.Calendar.from_ical(response.content).events


def _row(page, visit):
    """The text of the session's row on the home page."""
    return re.search(rf'data-visit="{visit.pk}">(.*?)</tr>', page.text, re.S).group(1)


def _at_site(visit):
    local = visit.starts_at.astimezone(zoneinfo.ZoneInfo(visit.participant.site.time_zone))
    return f"{local:%H:%M} {local.tzname()}"


def _create_link(client_of, facilitator):
    response = client_of(facilitator.user).post(reverse("facilitator_calendar_reset"))
    assert response.status_code == 302
    facilitator.refresh_from_db()
    return reverse("facilitator_calendar", args=[facilitator.calendar_token])


# --- My sessions --------------------------------------------------------------------------


def test_home_lists_my_booked_dosing_session_with_study_id_window_room_and_colleague(
    client_of, dosing_booked_a, lead_facilitator_a
):
    page = _home(client_of(lead_facilitator_a.user))
    (session,) = page.context["sessions"]
    assert session.visit == dosing_booked_a
    assert session.co_facilitators == [Facilitator.objects.get(user__username="co_facilitator_a")]
    study_id = dosing_booked_a.participant.study_id
    assert f'href="{reverse("participant_detail", args=[study_id])}"' in page.text
    window = f"{dosing_booked_a.window_start:%Y-%m-%d} – {dosing_booked_a.window_end:%Y-%m-%d}"
    for shown in (
        "Dosing",
        "Administration 1",
        "London",
        window,
        "Dosing suite 1",
        "Jonas Eriksen",
    ):
        assert shown in page.text


def test_home_shows_each_session_at_its_site_time_across_sites(
    client_of,
    dosing_booked_a,
    randomized_site_b,
    coordinator_site_b,
    lead_facilitator_a,
    trial_site_b,
):
    MembershipFactory(
        user=lead_facilitator_a.user,
        trial=trial_site_b.trial,
        site=trial_site_b.site,
        role=Role.FACILITATOR,
    )
    prep_b = _book(randomized_site_b, "PREP1", coordinator_site_b, [lead_facilitator_a], at="16:45")
    page = _home(client_of(lead_facilitator_a.user))
    assert [s.visit for s in page.context["sessions"]] == sorted(
        [dosing_booked_a, prep_b], key=lambda visit: visit.starts_at
    )
    assert _at_site(dosing_booked_a).startswith("09:30 ")
    assert _at_site(dosing_booked_a) in _row(page, dosing_booked_a)
    assert _at_site(prep_b).startswith("16:45 ")
    assert _at_site(prep_b) in _row(page, prep_b)
    assert "New York" in _row(page, prep_b)


def test_home_leaves_out_assessments_past_sessions_and_sessions_of_others(
    client_of,
    randomized_site_a,
    coordinator_site_a,
    lead_facilitator_a,
    co_facilitator_a,
):
    _book(randomized_site_a, "BASE", coordinator_site_a, [lead_facilitator_a], at="08:00")
    _book(
        randomized_site_a,
        "PREP1",
        coordinator_site_a,
        [lead_facilitator_a],
        days=-5,
        reason="Participant asked to come early",
    )
    _book(randomized_site_a, "PREP2", coordinator_site_a, [co_facilitator_a])
    assert _home(client_of(lead_facilitator_a.user)).context["sessions"] == []
    (theirs,) = _home(client_of(co_facilitator_a.user)).context["sessions"]
    assert theirs.visit.event_code == "PREP2"


def test_home_starts_at_midnight_today_at_the_site(
    client_of, randomized_site_a, coordinator_site_a, lead_facilitator_a
):
    team, reason = [lead_facilitator_a], "Only free slot"
    # PREP1 is due in 2 days and PREP2 in 5: booked at today's midnight and yesterday 23:59.
    midnight = _book(
        randomized_site_a, "PREP1", coordinator_site_a, team, at="00:00", days=-2, reason=reason
    )
    _book(randomized_site_a, "PREP2", coordinator_site_a, team, at="23:59", days=-6, reason=reason)
    assert midnight.starts_at <= timezone.now()
    sessions = _home(client_of(lead_facilitator_a.user)).context["sessions"]
    assert [s.visit for s in sessions] == [midnight]


def test_home_drops_sessions_cancelled_when_the_participant_withdraws(
    client_of, dosing_booked_a, coordinator_site_a, lead_facilitator_a
):
    _withdraw(dosing_booked_a.participant, coordinator_site_a)
    assert _home(client_of(lead_facilitator_a.user)).context["sessions"] == []


def test_home_hides_sessions_at_a_site_where_i_no_longer_facilitate(
    client_of, dosing_booked_a, lead_facilitator_a
):
    Membership.objects.filter(user=lead_facilitator_a.user).delete()
    assert _home(client_of(lead_facilitator_a.user)).context["sessions"] == []


def test_home_of_a_user_without_facilitator_record_says_so(client_of, coordinator_site_a):
    page = _home(client_of(coordinator_site_a))
    assert page.status_code == 200
    assert "no facilitator record" in page.text
    assert "My sessions</a>" not in page.text


def test_top_bar_links_my_sessions_for_facilitators_only(
    client_of, lead_facilitator_a, coordinator_site_a
):
    link = f'<a href="{reverse("facilitator_home")}">My sessions</a>'
    assert link in client_of(lead_facilitator_a.user).get(reverse("home")).text
    assert link not in client_of(coordinator_site_a).get(reverse("home")).text


def _extra_sessions(participant, coordinator, facilitators, numbers):
    """Therapy sessions beyond the protocol's, one a day after PREP1, booked through the service."""
    base = Visit.objects.get(participant=participant, event_code="PREP1")
    for number in numbers:
        day = base.target_date + datetime.timedelta(days=number + 1)
        visit = Visit.objects.create(
            participant=participant,
            protocol_version=base.protocol_version,
            event_code=f"EXTRA{number}",
            kind="integration" if number % 2 else "preparation",
            label=f"Extra session {number}",
            anchor="randomization",
            day=base.day + number + 1,
            status=Visit.Status.SCHEDULED,
            target_date=day,
            window_start=day,
            window_end=day,
            sequence=100 + number,
        )
        _book(participant, visit.event_code, coordinator, facilitators, room=f"Room {number}")


def test_home_queries_do_not_grow_with_sessions(
    client_of,
    randomized_site_a,
    coordinator_site_a,
    lead_facilitator_a,
    co_facilitator_a,
    django_assert_max_num_queries,
):
    team = [lead_facilitator_a, co_facilitator_a]
    _extra_sessions(randomized_site_a, coordinator_site_a, team, range(1))
    client = client_of(lead_facilitator_a.user)
    with django_assert_max_num_queries(8) as one:
        assert len(_home(client).context["sessions"]) == 1
    _extra_sessions(randomized_site_a, coordinator_site_a, team, range(1, 20))
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(_home(client).context["sessions"]) == 20


# --- The calendar feed --------------------------------------------------------------------


def test_home_offers_to_create_the_link_then_shows_its_absolute_url(client_of, lead_facilitator_a):
    client = client_of(lead_facilitator_a.user)
    assert "Create calendar link" in _home(client).text
    path = _create_link(client_of, lead_facilitator_a)
    page = _home(client)
    assert f'value="http://testserver{path}"' in page.text
    assert "Replace the link" in page.text


def test_feed_has_one_event_per_booked_session_at_the_right_utc_time(
    client, client_of, dosing_booked_a, coordinator_site_a, lead_facilitator_a
):
    prep = _book(dosing_booked_a.participant, "PREP1", coordinator_site_a, [lead_facilitator_a])
    _create_link(client_of, lead_facilitator_a)
    client.logout()
    response, calendar = _feed(client, lead_facilitator_a)
    events = {event["UID"]: event for event in calendar.events}
    assert set(events) == {f"visit-{dosing_booked_a.pk}@dyad", f"visit-{prep.pk}@dyad"}
    dosing = events[f"visit-{dosing_booked_a.pk}@dyad"]
    local_start = datetime.datetime.combine(
        dosing_booked_a.target_date, datetime.time(9, 30), tzinfo=LONDON
    )
    assert dosing.start == local_start
    assert dosing.start.utcoffset() == datetime.timedelta(0)
    assert f"DTSTART:{local_start.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}" in response.text
    assert dosing.end - dosing.start == datetime.timedelta(hours=8)
    assert events[f"visit-{prep.pk}@dyad"].end - events[f"visit-{prep.pk}@dyad"].start == (
        datetime.timedelta(minutes=90)
    )
    study_id = dosing_booked_a.participant.study_id
    assert str(dosing["SUMMARY"]) == f"Dosing: {study_id}"
    assert str(dosing["LOCATION"]) == "London, Dosing suite 1"
    assert f"{dosing_booked_a.window_start:%Y-%m-%d} to " in str(dosing["DESCRIPTION"])
    assert str(dosing["STATUS"]) == "CONFIRMED"


def test_feed_gives_new_york_sessions_their_new_york_time(
    client_of, randomized_site_b, coordinator_site_b, other_facilitator_b
):
    visit = _book(randomized_site_b, "PREP1", coordinator_site_b, [other_facilitator_b], at="16:45")
    _create_link(client_of, other_facilitator_b)
    _, calendar = _feed(client_of(other_facilitator_b.user), other_facilitator_b)
    (event,) = calendar.events
    assert event.start.astimezone(NEW_YORK).time() == datetime.time(16, 45)
    assert event.start == visit.starts_at


def test_feed_never_names_the_participant(client, client_of, dosing_booked_a, lead_facilitator_a):
    _create_link(client_of, lead_facilitator_a)
    response, _ = _feed(client, lead_facilitator_a)
    contact = dosing_booked_a.participant.contact
    text = response.content.decode()
    assert dosing_booked_a.participant.study_id in text
    for identity in (contact.given_name, contact.family_name, contact.email, contact.phone):
        assert identity not in text
    assert f"{contact.date_of_birth:%Y%m%d}" not in text


def _withdraw(participant, coordinator):
    participant_exit(
        participant=participant,
        kind="withdrawn",
        reason="adverse_event",
        details="Persistent anxiety",
        exited_on=_today(),
        by=coordinator,
    )


def test_feed_marks_sessions_cancelled_when_the_participant_withdraws(
    client, client_of, dosing_booked_a, coordinator_site_a, lead_facilitator_a
):
    _create_link(client_of, lead_facilitator_a)
    _withdraw(dosing_booked_a.participant, coordinator_site_a)
    _, calendar = _feed(client, lead_facilitator_a)
    (event,) = calendar.events
    assert event["UID"] == f"visit-{dosing_booked_a.pk}@dyad"
    assert str(event["STATUS"]) == "CANCELLED"


def test_feed_leaves_out_sessions_older_than_a_month_and_those_of_others(
    client, client_of, randomized_site_a, coordinator_site_a, lead_facilitator_a, co_facilitator_a
):
    _book(
        randomized_site_a,
        "PREP1",
        coordinator_site_a,
        [lead_facilitator_a],
        days=-40,
        reason="Recorded late",
    )
    _book(randomized_site_a, "PREP2", coordinator_site_a, [co_facilitator_a])
    _create_link(client_of, lead_facilitator_a)
    _, calendar = _feed(client, lead_facilitator_a)
    assert calendar.events == []


def test_feed_with_an_unknown_token_is_not_found(client, lead_facilitator_a):
    url = reverse("facilitator_calendar", args=["not-a-token"])
    assert client.get(url).status_code == 404


def test_replacing_the_link_revokes_the_old_url(client, client_of, lead_facilitator_a):
    old = _create_link(client_of, lead_facilitator_a)
    new = _create_link(client_of, lead_facilitator_a)
    assert new != old
    client.logout()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_feed_of_a_deactivated_account_is_not_found(client, client_of, lead_facilitator_a):
    url = _create_link(client_of, lead_facilitator_a)
    lead_facilitator_a.user.is_active = False
    lead_facilitator_a.user.save()
    client.logout()
    assert client.get(url).status_code == 404


def test_creating_the_link_is_audited_with_who_and_why(client_of, lead_facilitator_a):
    _create_link(client_of, lead_facilitator_a)
    _create_link(client_of, lead_facilitator_a)
    events = Events.objects.tracks(lead_facilitator_a).order_by("pgh_created_at")
    reasons = [e.pgh_context["reason"] for e in events if e.pgh_label == "update"]
    assert reasons == ["Calendar link created", "Calendar link replaced"]
    assert {e.pgh_context["username"] for e in events if e.pgh_label == "update"} == {
        "facilitator_a"
    }


def test_the_link_is_reset_only_by_post(client_of, lead_facilitator_a):
    response = client_of(lead_facilitator_a.user).get(reverse("facilitator_calendar_reset"))
    assert response.status_code == 405


def test_a_user_without_facilitator_record_cannot_create_a_link(client_of, coordinator_site_a):
    response = client_of(coordinator_site_a).post(reverse("facilitator_calendar_reset"))
    assert response.status_code == 404


def test_feed_queries_do_not_grow_with_sessions(
    client,
    client_of,
    randomized_site_a,
    coordinator_site_a,
    lead_facilitator_a,
    co_facilitator_a,
    django_assert_max_num_queries,
):
    team = [lead_facilitator_a, co_facilitator_a]
    _extra_sessions(randomized_site_a, coordinator_site_a, team, range(1))
    url = _create_link(client_of, lead_facilitator_a)
    client.logout()
    with django_assert_max_num_queries(2):
        assert len(_events(client.get(url))) == 1
    _extra_sessions(randomized_site_a, coordinator_site_a, team, range(1, 20))
    with django_assert_max_num_queries(2):
        assert len(_events(client.get(url))) == 20


# --- The facilitator's page: credentials and qualification ----------------------------------


def _detail(client, facilitator):
    return client.get(reverse("facilitator_detail", args=[facilitator.pk]))


@pytest.mark.parametrize(
    "reader", ["facilitator_site_a", "coordinator_site_a", "investigator_site_a", "monitor"]
)
def test_facilitator_page_is_open_to_them_and_to_their_sites_team(
    request, client_of, comp360_protocol, lead_facilitator_a, reader
):
    page = _detail(client_of(request.getfixturevalue(reader)), lead_facilitator_a)
    assert page.status_code == 200
    assert "Maya Lindqvist" in page.text


@pytest.mark.parametrize(
    "outsider",
    [
        "coordinator_site_b",
        "investigator_site_b",
        "facilitator_site_b",
        "co_facilitator_a",
        "sponsor_user",
        "coordinator_other_trial",
    ],
)
def test_facilitator_page_is_not_found_for_anyone_else(
    request, client_of, lead_facilitator_a, outsider
):
    person = request.getfixturevalue(outsider)
    user = person.user if isinstance(person, Facilitator) else person
    assert _detail(client_of(user), lead_facilitator_a).status_code == 404


def test_facilitator_page_of_an_unknown_facilitator_is_not_found(client_of, coordinator_site_a):
    response = client_of(coordinator_site_a).get(reverse("facilitator_detail", args=[999999]))
    assert response.status_code == 404


def test_facilitator_page_shows_each_credential_state_and_total_training_hours(
    client_of, comp360_protocol, coordinator_site_a, lead_facilitator_a
):
    today = timezone.localdate()
    LicenceFactory(
        facilitator=lead_facilitator_a,
        licence_type="LCSW",
        expires_on=today + datetime.timedelta(days=20),
    )
    LicenceFactory(
        facilitator=lead_facilitator_a,
        licence_type="LMFT",
        expires_on=today - datetime.timedelta(days=1),
    )
    TrainingFactory(facilitator=lead_facilitator_a, programme="MDMA-AT module", hours=35)
    page = _detail(client_of(coordinator_site_a), lead_facilitator_a)
    states = {line.credential.licence_type: line.state for line in page.context["summary"].licences}
    assert states == {"Clinical psychologist": "valid", "LCSW": "expiring", "LMFT": "lapsed"}
    assert "Expires within 30 days" in page.text and "Lapsed" in page.text
    assert page.context["summary"].training_hours == 155
    assert "155 hours in total" in page.text


def test_facilitator_page_shows_a_lapsed_licence_blocks_dosing_in_the_trial(
    client_of, comp360_protocol, coordinator_site_a, lapsed_facilitator_a
):
    page = _detail(client_of(coordinator_site_a), lapsed_facilitator_a)
    (trial,) = page.context["summary"].trials
    assert trial.protocol_number == 1
    assert not trial.verdict.qualified
    lapsed = _today() - datetime.timedelta(days=10)
    assert f"licence lapsed on {lapsed:%Y-%m-%d}" in page.text
    assert "New dosing assignments are blocked" in page.text


def test_facilitator_page_lists_missing_training_hours_under_the_current_protocol(
    client_of, comp360_protocol, coordinator_site_a, trainee_facilitator_a
):
    page = _detail(client_of(coordinator_site_a), trainee_facilitator_a)
    assert "40 training hours of the 100 required" in page.text


def test_facilitator_page_shows_qualified_per_trial_and_trials_without_protocol(
    client_of, comp360_protocol, lead_facilitator_a, other_trial, site_a
):
    from tests.factories import TrialSiteFactory

    TrialSiteFactory(trial=other_trial, site=site_a)
    MembershipFactory(
        user=lead_facilitator_a.user, trial=other_trial, site=site_a, role="facilitator"
    )
    page = _detail(client_of(lead_facilitator_a.user), lead_facilitator_a)
    verdicts = {item.trial.code: item.verdict for item in page.context["summary"].trials}
    assert verdicts["COMP360-TRD-P3"].qualified
    assert verdicts["MAPP1"] is None
    assert "No protocol loaded yet." in page.text


def test_facilitator_page_shows_a_reader_only_the_trials_they_share(
    client_of, comp360_protocol, lead_facilitator_a, coordinator_other_trial, other_trial, site_a
):
    MembershipFactory(
        user=lead_facilitator_a.user, trial=other_trial, site=site_a, role="facilitator"
    )
    page = _detail(client_of(coordinator_other_trial), lead_facilitator_a)
    assert [item.trial.code for item in page.context["summary"].trials] == ["MAPP1"]
    assert "COMP360" not in page.text


def test_facilitator_page_queries_do_not_grow_with_credentials_and_trials(
    client_of,
    comp360_protocol,
    coordinator_site_a,
    lead_facilitator_a,
    trial_site_b,
    django_assert_max_num_queries,
):
    client = client_of(coordinator_site_a)
    with django_assert_max_num_queries(10) as few:
        _detail(client, lead_facilitator_a)
    MembershipFactory(
        user=lead_facilitator_a.user,
        trial=trial_site_b.trial,
        site=trial_site_b.site,
        role=Role.FACILITATOR,
    )
    for number in range(10):
        LicenceFactory(facilitator=lead_facilitator_a, jurisdiction=f"State {number}")
        TrainingFactory(facilitator=lead_facilitator_a, programme=f"Module {number}", hours=5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = _detail(client, lead_facilitator_a)
    assert len(page.context["summary"].licences) == 11


# --- Dosing teams, through the booking page -------------------------------------------------


def _book_dosing_through_the_form(client, participant, facilitators):
    visit = Visit.objects.get(participant=participant, event_code="DOSE1")
    url = reverse("visit_book", args=[participant.study_id, "DOSE1"])
    return client.post(
        url,
        {
            "starts_at": f"{visit.target_date.isoformat()}T09:30",
            "room": "Dosing suite 1",
            "facilitators": [facilitator.pk for facilitator in facilitators],
        },
    )


def _dose1(participant):
    return Visit.objects.get(participant=participant, event_code="DOSE1")


def test_booking_dosing_with_two_qualified_facilitators_succeeds(
    client_of, randomized_site_a, coordinator_site_a, lead_facilitator_a, co_facilitator_a
):
    response = _book_dosing_through_the_form(
        client_of(coordinator_site_a), randomized_site_a, [lead_facilitator_a, co_facilitator_a]
    )
    assert response.status_code == 302
    assert _dose1(randomized_site_a).status == "booked"


def test_booking_dosing_refuses_a_facilitator_whose_licence_lapsed(
    client_of, randomized_site_a, coordinator_site_a, lead_facilitator_a, lapsed_facilitator_a
):
    response = _book_dosing_through_the_form(
        client_of(coordinator_site_a), randomized_site_a, [lead_facilitator_a, lapsed_facilitator_a]
    )
    lapsed = _today() - datetime.timedelta(days=10)
    assert response.context["form"].errors["facilitators"] == [
        f"Robin Okafor cannot be assigned: licence lapsed on {lapsed:%Y-%m-%d}."
    ]
    assert 'id="facilitators-error"' in response.text
    assert _dose1(randomized_site_a).status == "scheduled"


def test_booking_dosing_refuses_a_facilitator_with_too_few_training_hours(
    client_of, randomized_site_a, coordinator_site_a, lead_facilitator_a, trainee_facilitator_a
):
    response = _book_dosing_through_the_form(
        client_of(coordinator_site_a),
        randomized_site_a,
        [lead_facilitator_a, trainee_facilitator_a],
    )
    assert response.context["form"].errors["facilitators"] == [
        "Priya Nair cannot be assigned: 40 training hours of the 100 required."
    ]
    assert _dose1(randomized_site_a).status == "scheduled"


def test_booking_dosing_needs_the_protocols_two_facilitators(
    client_of, randomized_site_a, coordinator_site_a, lead_facilitator_a
):
    response = _book_dosing_through_the_form(
        client_of(coordinator_site_a), randomized_site_a, [lead_facilitator_a]
    )
    assert response.context["form"].errors["facilitators"] == [
        "A dosing session needs 2 facilitators; 1 chosen."
    ]
    assert "A dosing session needs 2 facilitators; 1 chosen." in response.text
    assert _dose1(randomized_site_a).status == "scheduled"


def test_booking_dosing_blocks_a_licence_lapsing_before_the_session_day(
    client_of, randomized_site_a, coordinator_site_a, lead_facilitator_a, co_facilitator_a
):
    session_day = _dose1(randomized_site_a).target_date
    co_facilitator_a.credentials.filter(kind="licence").update(
        expires_on=session_day - datetime.timedelta(days=1)
    )
    response = _book_dosing_through_the_form(
        client_of(coordinator_site_a), randomized_site_a, [lead_facilitator_a, co_facilitator_a]
    )
    (error,) = response.context["form"].errors["facilitators"]
    assert error.startswith("Jonas Eriksen cannot be assigned: licence lapsed on ")


def test_home_lists_a_session_still_to_book_until_its_window_closes(
    client_of, randomized_site_a, coordinator_site_a, lead_facilitator_a
):
    from trials.sessions.models import VisitFacilitator

    prep = Visit.objects.get(participant=randomized_site_a, event_code="PREP1")
    VisitFacilitator.objects.create(
        visit=prep,
        facilitator=lead_facilitator_a,
        participant=randomized_site_a,
        assigned_by=coordinator_site_a,
    )
    client = client_of(lead_facilitator_a.user)
    page = _home(client)
    assert [s.visit for s in page.context["sessions"]] == [prep]
    assert "To book" in _row(page, prep)
    Visit.objects.filter(pk=prep.pk).update(
        window_start=prep.window_start - datetime.timedelta(days=10),
        target_date=prep.window_start - datetime.timedelta(days=5),
        window_end=_today() - datetime.timedelta(days=1),
    )
    assert _home(client).context["sessions"] == []
