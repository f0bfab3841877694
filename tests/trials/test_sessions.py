"""The dosing session and therapy sessions, through the services."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase
from django.utils import timezone

from tests.factories import PASSWORD, FacilitatorFactory, LicenceFactory, TrainingFactory
from trials.enrollment.services import participant_exit
from trials.participants.models import Participant
from trials.sessions.models import DosingSession, SessionSignature, TherapySession, Visit
from trials.sessions.services import (
    dosing_session_give_dose,
    dosing_session_not_given,
    dosing_session_override_vitals,
    dosing_session_sign,
    dosing_session_start,
    dosing_session_supplement,
    dosing_session_update,
    predose_problems,
    therapy_session_record,
    visit_book,
    vital_sign_add,
)

LONDON = ZoneInfo("Europe/London")
CHECKLIST = {
    "eligibility_confirmed": True,
    "consent_current": True,
    "medications_stopped": True,
    "washout_days": 14,
    "pregnancy_test": "negative",
    "predose_systolic": 128,
    "predose_diastolic": 82,
    "predose_heart_rate": 74,
}
RELEASE = {
    "release_alert_and_oriented": True,
    "release_vitals_stable": True,
    "release_escort_arranged": True,
}


def _visit(participant, code):
    return Visit.objects.get(participant=participant, event_code=code)


# Doses are logged as they are given: a time just past.
DOSED_AT = timezone.now() - datetime.timedelta(hours=3)
DOSE_DAY = DOSED_AT.astimezone(LONDON).date()


def _at(day, hour, minute=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON)


@pytest.fixture
def session(booked_dosing_site_a, facilitator_a1):
    return dosing_session_start(visit=booked_dosing_site_a, by=facilitator_a1)


@pytest.fixture
def facilitator_a1(dosing_team_site_a):
    return dosing_team_site_a[0].user


@pytest.fixture
def facilitator_a2(dosing_team_site_a):
    return dosing_team_site_a[1].user


def _ready(session, by):
    return dosing_session_update(session=session, values=CHECKLIST, by=by)


def _dose(session, by, kit=None):
    """Give the dose and commit: the task queued after commit dates what follows."""
    kit = kit or session.participant.allocation.kit_code
    with TestCase.captureOnCommitCallbacks(execute=True):
        return dosing_session_give_dose(
            session=session,
            kit_code=kit,
            lot_number="LOT-2291",
            route="oral",
            dosed_at=DOSED_AT,
            by=by,
        )


def test_the_dose_waits_for_the_whole_checklist(session, facilitator_a1):
    problems = predose_problems(session)
    assert "Confirm eligibility and consent on the checklist." in problems
    assert "Record the pre-dose blood pressure and heart rate." in problems
    with pytest.raises(ValidationError):
        _dose(session, facilitator_a1)
    assert DosingSession.objects.get(pk=session.pk).status == "in_progress"


def test_a_dose_given_starts_treatment_and_schedules_what_follows_from_t0(
    session, facilitator_a1, randomized_site_a
):
    _dose(_ready(session, facilitator_a1), facilitator_a1)
    dose_day = DOSE_DAY
    assert Participant.objects.get(pk=randomized_site_a.pk).status == "in_treatment"
    assert _visit(randomized_site_a, "DOSE1").status == "completed"
    next_day = _visit(randomized_site_a, "INT1A")
    assert (next_day.status, next_day.target_date) == (
        "scheduled",
        dose_day + datetime.timedelta(days=1),
    )
    assert _visit(randomized_site_a, "DOSE2").target_date == dose_day + datetime.timedelta(days=21)
    assert _visit(randomized_site_a, "INT2A").status == "awaiting_dosing"


def test_the_kit_must_be_the_participants_own(session, facilitator_a1):
    _ready(session, facilitator_a1)
    with pytest.raises(ValidationError) as error:
        _dose(session, facilitator_a1, kit="K-WRONGKIT")
    assert error.value.message_dict == {
        "kit_code": ["This is not the kit allocated to the participant."]
    }


def test_high_predose_blood_pressure_blocks_until_an_investigator_overrides(
    session, facilitator_a1, investigator_site_a
):
    dosing_session_update(
        session=session, values={**CHECKLIST, "predose_systolic": 172}, by=facilitator_a1
    )
    with pytest.raises(ValidationError) as error:
        _dose(session, facilitator_a1)
    assert "Pre-dose systolic blood pressure 172 is above the limit of 160." in error.value.messages
    with pytest.raises(PermissionDenied, match="Only an investigator"):
        dosing_session_override_vitals(
            session=session,
            investigator=facilitator_a1,
            password=PASSWORD,
            reason="Anxious; repeat 150",
        )
    dosing_session_override_vitals(
        session=session,
        investigator=investigator_site_a,
        password=PASSWORD,
        reason="White-coat; repeat 150/90",
    )
    assert _dose(session, facilitator_a1).status == "given"


def test_a_facilitator_whose_licence_lapsed_stops_the_dose(
    session, facilitator_a1, dosing_team_site_a
):
    licence = dosing_team_site_a[1].credentials.get(kind="licence")
    licence.expires_on = datetime.date(2026, 1, 31)
    licence.save()
    _ready(session, facilitator_a1)
    with pytest.raises(ValidationError, match="licence lapsed on 2026-01-31"):
        _dose(session, facilitator_a1)


def test_booking_a_dosing_visit_needs_two_qualified_facilitators(
    randomized_site_a, coordinator_site_a, dosing_team_site_a, trial_site_a
):
    from tests.conftest import _member
    from trials.study.models import Role

    novice = FacilitatorFactory.create(
        user=_member("novice", trial_site_a.trial, trial_site_a.site, Role.FACILITATOR)
    )
    LicenceFactory(facilitator=novice)
    TrainingFactory(facilitator=novice, hours=40)
    visit = _visit(randomized_site_a, "DOSE1")
    starts = _at(visit.target_date, 9)
    with pytest.raises(ValidationError) as error:
        visit_book(
            visit=visit,
            starts_at=starts,
            room="",
            by=coordinator_site_a,
            facilitators=[dosing_team_site_a[0], novice],
        )
    assert error.value.message_dict["facilitators"] == [
        f"{novice} cannot be assigned: 40 training hours of the 100 required."
    ]
    with pytest.raises(ValidationError, match="needs 2 facilitators; 1 chosen"):
        visit_book(
            visit=visit,
            starts_at=starts,
            room="",
            by=coordinator_site_a,
            facilitators=[dosing_team_site_a[0]],
        )
    assert _visit(randomized_site_a, "DOSE1").status == "scheduled"


def test_vitals_rows_are_validated(session, facilitator_a1):
    now = timezone.now()
    vital = vital_sign_add(
        session=session,
        by=facilitator_a1,
        values={
            "measured_at": now,
            "systolic": 142,
            "diastolic": 88,
            "heart_rate": 96,
            "temperature": "37.4",
        },
    )
    assert vital.pk
    with pytest.raises(ValidationError) as error:
        vital_sign_add(
            session=session,
            by=facilitator_a1,
            values={"measured_at": now, "systolic": 80, "diastolic": 95, "heart_rate": 400},
        )
    assert set(error.value.message_dict) >= {"heart_rate"}


def _complete(session, by):
    _dose(_ready(session, by), by)
    return dosing_session_update(
        session=session, by=by, values={**RELEASE, "ended_at": timezone.now()}
    )


def test_both_facilitators_sign_and_an_edit_asks_them_again(
    session, facilitator_a1, facilitator_a2, coordinator_site_a
):
    with pytest.raises(ValidationError, match="before signing"):
        dosing_session_sign(session=session, signer=facilitator_a1, password=PASSWORD)
    _complete(session, facilitator_a1)
    with pytest.raises(ValidationError, match="Only a facilitator of this session"):
        dosing_session_sign(session=session, signer=coordinator_site_a, password=PASSWORD)
    dosing_session_sign(session=session, signer=facilitator_a1, password=PASSWORD)
    dosing_session_sign(session=session, signer=facilitator_a2, password=PASSWORD)
    assert SessionSignature.objects.filter(revision=1).count() == 2

    with pytest.raises(ValidationError) as error:
        dosing_session_update(
            session=session, values={"interventions": "Music changed"}, by=facilitator_a1
        )
    assert "reason" in error.value.message_dict
    edited = dosing_session_update(
        session=session,
        values={"interventions": "Music changed"},
        by=facilitator_a1,
        reason="Late entry from paper notes",
    )
    assert edited.revision == 2
    assert SessionSignature.objects.filter(dosing_session=session, revision=2).count() == 0
    dosing_session_sign(session=edited, signer=facilitator_a1, password=PASSWORD)
    assert SessionSignature.objects.count() == 3


def test_changing_a_saved_value_needs_a_reason(session, facilitator_a1):
    _ready(session, facilitator_a1)
    with pytest.raises(ValidationError):
        dosing_session_update(session=session, values={"predose_systolic": 135}, by=facilitator_a1)
    dosing_session_update(
        session=session,
        values={"predose_systolic": 135},
        by=facilitator_a1,
        reason="Misread the monitor",
    )
    assert DosingSession.objects.get(pk=session.pk).predose_systolic == 135


def test_no_supplemental_dose_where_the_protocol_has_none(session, facilitator_a1):
    _dose(_ready(session, facilitator_a1), facilitator_a1)
    with pytest.raises(ValidationError, match="no supplemental dose"):
        dosing_session_supplement(
            session=session, dosed_at=timezone.now(), lot_number="L2", by=facilitator_a1
        )


def test_a_session_can_end_without_a_dose_with_its_reason(session, facilitator_a1):
    dosing_session_not_given(
        session=session, reason="Participant declined today", by=facilitator_a1
    )
    with pytest.raises(ValidationError):
        _dose(_ready(session, facilitator_a1), facilitator_a1)


def test_dosing_needs_a_participant_still_in_treatment(
    booked_dosing_site_a, coordinator_site_a, randomized_site_a
):
    participant_exit(
        participant=randomized_site_a,
        kind="withdrawn",
        reason="withdrew_consent",
        details="",
        exited_on=timezone.now().date(),
        by=coordinator_site_a,
    )
    with pytest.raises(ValidationError, match="randomized participant"):
        dosing_session_start(visit=booked_dosing_site_a, by=coordinator_site_a)


def test_no_integration_session_before_its_dosing(
    randomized_site_a, coordinator_site_a, dosing_team_site_a
):
    with pytest.raises(ValidationError, match="follows DOSE1, which has not been given"):
        therapy_session_record(
            visit=_visit(randomized_site_a, "INT1A"),
            by=coordinator_site_a,
            values={
                "attended": True,
                "started_at": timezone.now(),
                "duration_minutes": 60,
                "facilitator": dosing_team_site_a[0],
            },
        )
    assert not TherapySession.objects.exists()


def test_preparation_attended_and_missed(randomized_site_a, coordinator_site_a, dosing_team_site_a):
    therapy_session_record(
        visit=_visit(randomized_site_a, "PREP1"),
        by=coordinator_site_a,
        values={
            "attended": True,
            "started_at": timezone.now(),
            "duration_minutes": 90,
            "facilitator": dosing_team_site_a[0],
            "themes": "Intentions, set and setting",
        },
    )
    assert _visit(randomized_site_a, "PREP1").status == "completed"
    with pytest.raises(ValidationError, match="records why"):
        therapy_session_record(
            visit=_visit(randomized_site_a, "PREP2"),
            by=coordinator_site_a,
            values={"attended": False},
        )
    therapy_session_record(
        visit=_visit(randomized_site_a, "PREP2"),
        by=coordinator_site_a,
        values={"attended": False, "missed_reason": "Train strike"},
    )
    assert _visit(randomized_site_a, "PREP2").status == "missed"


@pytest.mark.parametrize("field", ["dosed_at", "measured_at", "ended_at"])
def test_times_still_to_come_are_refused(session, facilitator_a1, field):
    later = timezone.now() + datetime.timedelta(hours=2)
    _ready(session, facilitator_a1)
    with pytest.raises(ValidationError) as error:
        if field == "dosed_at":
            dosing_session_give_dose(
                session=session,
                kit_code="K-X",
                lot_number="L",
                route="oral",
                dosed_at=later,
                by=facilitator_a1,
            )
        elif field == "measured_at":
            vital_sign_add(
                session=session,
                by=facilitator_a1,
                values={"measured_at": later, "systolic": 120, "diastolic": 80, "heart_rate": 70},
            )
        else:
            dosing_session_update(session=session, values={"ended_at": later}, by=facilitator_a1)
    assert error.value.message_dict == {field: ["This time is in the future."]}
