"""Assessments, C-SSRS screens with their alert, adverse events and their review: the services."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tests.factories import PASSWORD, participant_at
from trials.participants.models import Signature
from trials.participants.queries import participant_audit_trail
from trials.safety.models import SERIOUSNESS_FIELDS, AdverseEvent, Assessment, SuicideRiskScreen
from trials.safety.services import (
    adverse_event_report,
    adverse_event_review,
    adverse_event_update,
    assessment_record,
    risk_screen_record,
)
from trials.sessions.models import Visit
from trials.sessions.services import dosing_session_start

NOW = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)
NO_ANSWERS = {
    "wish_to_be_dead": False,
    "suicidal_thoughts": False,
    "thoughts_with_method": False,
    "intent": False,
    "plan": False,
    "recent_behaviour": False,
}


def _record(participant, by, event_code="BASE", instrument="MADRS", score=Decimal(30)):
    visit = Visit.objects.get(participant=participant, event_code=event_code)
    return assessment_record(
        visit=visit, instrument=instrument, score=score, assessed_at=NOW, by=by
    )


def ae_values(**overrides):
    """An adverse event as a facilitator reports it: not serious unless overridden."""
    return {
        "term": "Transient hypertension",
        "onset_at": NOW,
        "severity": AdverseEvent.Severity.MODERATE,
        "relatedness": AdverseEvent.Relatedness.PROBABLE,
        "action_taken": AdverseEvent.ActionTaken.NONE,
        "outcome": AdverseEvent.Outcome.RECOVERED,
        **overrides,
    }


# Assessments


@pytest.mark.parametrize(
    ("score", "instrument"),
    [(Decimal(0), "MADRS"), (Decimal(60), "MADRS"), (Decimal("12.5"), "MADRS"), (27, "QIDS-SR16")],
)
def test_assessment_accepts_scores_within_the_scale(
    randomized_site_a, coordinator_site_a, score, instrument
):
    assessment = _record(randomized_site_a, coordinator_site_a, instrument=instrument, score=score)
    assessment.refresh_from_db()
    assert assessment.score == score
    assert assessment.recorded_by == coordinator_site_a
    assert assessment.participant == randomized_site_a


@pytest.mark.parametrize(
    ("event_code", "instrument", "score", "field", "message"),
    [
        ("BASE", "CAPS-5", Decimal(30), "instrument", "not collected at Baseline"),
        ("PREP1", "MADRS", Decimal(30), "instrument", "listed: none"),
        ("BASE", None, Decimal(30), "instrument", "not collected"),
        ("BASE", "MADRS", Decimal(61), "score", "between 0 and 60"),
        ("BASE", "MADRS", Decimal("-0.5"), "score", "between 0 and 60"),
        ("BASE", "QIDS-SR16", Decimal(28), "score", "between 0 and 27"),
        ("BASE", "MADRS", True, "score", "is a number"),
        ("BASE", "MADRS", False, "score", "is a number"),
        ("BASE", "MADRS", None, "score", "is a number"),
    ],
)
def test_assessment_refuses_invalid_input_on_the_field(
    randomized_site_a, coordinator_site_a, event_code, instrument, score, field, message
):
    with pytest.raises(ValidationError) as caught:
        _record(randomized_site_a, coordinator_site_a, event_code, instrument, score)
    assert field in caught.value.message_dict
    assert message in " ".join(caught.value.message_dict[field])
    assert not Assessment.objects.exists()


def test_assessment_refuses_a_visit_awaiting_dosing(randomized_site_a, coordinator_site_a):
    with pytest.raises(ValidationError, match="awaiting dosing"):
        _record(randomized_site_a, coordinator_site_a, event_code="INT1B")


def test_assessment_is_recorded_once_per_visit_and_scale(randomized_site_a, coordinator_site_a):
    _record(randomized_site_a, coordinator_site_a)
    with pytest.raises(ValidationError, match="already recorded at this visit"):
        _record(randomized_site_a, coordinator_site_a, score=Decimal(25))
    assert Assessment.objects.get().score == 30


# Suicide-risk screens


@pytest.mark.parametrize(
    ("question", "active"),
    [
        (None, False),
        ("wish_to_be_dead", False),
        ("suicidal_thoughts", True),
        ("thoughts_with_method", True),
        ("intent", True),
        ("plan", True),
        ("recent_behaviour", True),
    ],
)
def test_active_ideation_is_a_yes_to_question_2_to_6(question, active):
    answers = {**NO_ANSWERS, **({question: True} if question else {})}
    assert SuicideRiskScreen(**answers).active_ideation is active


def test_active_ideation_emails_the_site_investigators_once(
    participant_site_a,
    coordinator_site_a,
    investigator_site_a,
    investigator_site_b,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        risk_screen_record(
            participant=participant_site_a,
            visit=None,
            answers={**NO_ANSWERS, "wish_to_be_dead": True, "suicidal_thoughts": True},
            assessed_at=NOW,
            by=coordinator_site_a,
        )
    # The site's investigator by study ID; the sponsor by its pseudonym, never the study ID.
    to_investigator, to_sponsor = sorted(
        mail.outbox, key=lambda message: message.to != [investigator_site_a.email]
    )
    assert [to_investigator.to, to_sponsor.to] == [
        [investigator_site_a.email],
        ["safety@example.org"],
    ]
    assert participant_site_a.study_id in to_investigator.subject
    assert participant_site_a.study_id not in to_sponsor.subject + to_sponsor.body  # type: ignore[operator]  # str, not lazy
    assert all("URGENT" in message.subject for message in mail.outbox)


def test_the_alert_waits_for_the_commit(
    participant_site_a, coordinator_site_a, investigator_site_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        risk_screen_record(
            participant=participant_site_a,
            visit=None,
            answers={**NO_ANSWERS, "plan": True},
            assessed_at=NOW,
            by=coordinator_site_a,
        )
    assert len(callbacks) == 1
    assert mail.outbox == []


def test_wish_to_be_dead_alone_sends_no_alert(
    participant_site_a, coordinator_site_a, investigator_site_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        screen = risk_screen_record(
            participant=participant_site_a,
            visit=None,
            answers={**NO_ANSWERS, "wish_to_be_dead": True},
            assessed_at=NOW,
            by=coordinator_site_a,
        )
    assert mail.outbox == []
    assert SuicideRiskScreen.objects.get(pk=screen.pk).wish_to_be_dead is True


# Adverse events


def test_reported_event_is_unsigned_and_not_serious(participant_site_a, facilitator_site_a):
    event = adverse_event_report(
        participant=participant_site_a, values=ae_values(), by=facilitator_site_a
    )
    assert event.reported_by == facilitator_site_a
    assert event.is_serious is False
    assert list(AdverseEvent.objects.unsigned()) == [event]
    assert not AdverseEvent.objects.serious().exists()


@pytest.mark.parametrize("criterion", SERIOUSNESS_FIELDS)
def test_any_seriousness_criterion_makes_the_event_serious(
    participant_site_a, coordinator_site_a, criterion
):
    values = ae_values(**{criterion: True})
    if criterion == "results_in_death":
        values["outcome"] = AdverseEvent.Outcome.FATAL
    event = adverse_event_report(
        participant=participant_site_a, values=values, by=coordinator_site_a
    )
    assert event.is_serious is True
    assert list(AdverseEvent.objects.serious()) == [event]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ended_at": NOW - datetime.timedelta(hours=1)}, "ends after it starts"),
        ({"outcome": AdverseEvent.Outcome.FATAL}, "resulted in death"),
        ({"severity": "catastrophic"}, "not a valid choice"),
        ({"term": ""}, "cannot be blank"),
        ({"reported_by": None}, "Unknown adverse event field"),
    ],
)
def test_report_refuses_an_inconsistent_event(
    participant_site_a, coordinator_site_a, overrides, message
):
    with pytest.raises(ValidationError, match=message):
        adverse_event_report(
            participant=participant_site_a, values=ae_values(**overrides), by=coordinator_site_a
        )
    assert not AdverseEvent.objects.exists()


@pytest.fixture
def dosing_session_site_a(booked_dosing_site_a, coordinator_site_a):
    return dosing_session_start(visit=booked_dosing_site_a, by=coordinator_site_a)


def test_event_may_point_at_the_participants_dosing_session(
    randomized_site_a, dosing_session_site_a, facilitator_site_a
):
    event = adverse_event_report(
        participant=randomized_site_a,
        values=ae_values(dosing_session=dosing_session_site_a),
        by=facilitator_site_a,
    )
    assert event.dosing_session == dosing_session_site_a


def test_event_refuses_another_participants_dosing_session(
    dosing_session_site_a, trial_site_a, coordinator_site_a
):
    other = participant_at(trial_site_a, coordinator_site_a, given_name="Robin")
    with pytest.raises(ValidationError) as caught:
        adverse_event_report(
            participant=other,
            values=ae_values(dosing_session=dosing_session_site_a),
            by=coordinator_site_a,
        )
    assert "another participant's" in caught.value.message_dict["dosing_session"][0]
    event = adverse_event_report(participant=other, values=ae_values(), by=coordinator_site_a)
    with pytest.raises(ValidationError, match="another participant's"):
        adverse_event_update(
            event=event,
            values={"dosing_session": dosing_session_site_a},
            reason="Linked to the session",
            by=coordinator_site_a,
        )


@pytest.fixture
def reported_event(participant_site_a, facilitator_site_a):
    return adverse_event_report(
        participant=participant_site_a,
        values=ae_values(hospitalization=True),
        by=facilitator_site_a,
    )


def test_investigator_of_the_site_reviews_and_signs(reported_event, investigator_site_a):
    signature = adverse_event_review(
        event=reported_event, investigator=investigator_site_a, password=PASSWORD
    )
    reported_event.refresh_from_db()
    assert reported_event.review_signature == signature
    assert signature.meaning == Signature.Meaning.ADVERSE_EVENT_REVIEWED
    assert signature.signer == investigator_site_a
    assert signature.printed_name == investigator_site_a.get_full_name()
    assert not AdverseEvent.objects.unsigned().exists()


@pytest.mark.parametrize(
    ("reviewer", "password", "refusal", "message"),
    [
        ("investigator_site_a", "wrong password", ValidationError, "password is not correct"),
        ("coordinator_site_a", PASSWORD, PermissionDenied, "Only an investigator at this site"),
        ("facilitator_site_a", PASSWORD, PermissionDenied, "Only an investigator at this site"),
        ("investigator_site_b", PASSWORD, PermissionDenied, "Only an investigator at this site"),
        ("monitor", PASSWORD, PermissionDenied, "Only an investigator at this site"),
    ],
)
def test_review_is_refused_without_the_investigators_password(
    request, reported_event, reviewer, password, refusal, message
):
    with pytest.raises(refusal, match=message):
        adverse_event_review(
            event=reported_event,
            investigator=request.getfixturevalue(reviewer),
            password=password,
        )
    reported_event.refresh_from_db()
    assert reported_event.review_signature is None
    assert not Signature.objects.filter(meaning=Signature.Meaning.ADVERSE_EVENT_REVIEWED).exists()


def test_event_is_signed_once(reported_event, investigator_site_a):
    adverse_event_review(event=reported_event, investigator=investigator_site_a, password=PASSWORD)
    with pytest.raises(ValidationError, match="already signed"):
        adverse_event_review(
            event=reported_event, investigator=investigator_site_a, password=PASSWORD
        )


def test_update_needs_a_reason(reported_event, coordinator_site_a):
    with pytest.raises(ValidationError) as caught:
        adverse_event_update(
            event=reported_event,
            values={"outcome": AdverseEvent.Outcome.RECOVERING},
            reason=" ",
            by=coordinator_site_a,
        )
    assert "reason" in caught.value.message_dict
    reported_event.refresh_from_db()
    assert reported_event.outcome == AdverseEvent.Outcome.RECOVERED


def test_update_after_review_voids_the_signature_and_keeps_it_on_record(
    reported_event, investigator_site_a, coordinator_site_a
):
    signature = adverse_event_review(
        event=reported_event, investigator=investigator_site_a, password=PASSWORD
    )
    event = adverse_event_update(
        event=reported_event,
        values={"outcome": AdverseEvent.Outcome.RECOVERING, "ended_at": None},
        reason="Follow-up call: still recovering",
        by=coordinator_site_a,
    )
    event.refresh_from_db()
    assert event.outcome == AdverseEvent.Outcome.RECOVERING
    assert event.review_signature is None
    assert Signature.objects.filter(pk=signature.pk).exists()
    assert list(AdverseEvent.objects.unsigned()) == [event]
    trail = participant_audit_trail(event.participant, with_identity=False)
    assert "Follow-up call: still recovering" in [entry.reason for entry in trail]


def test_update_refuses_an_inconsistent_change_and_keeps_the_review(
    reported_event, investigator_site_a, coordinator_site_a
):
    adverse_event_review(event=reported_event, investigator=investigator_site_a, password=PASSWORD)
    with pytest.raises(ValidationError, match="ends after it starts"):
        adverse_event_update(
            event=reported_event,
            values={"ended_at": reported_event.onset_at - datetime.timedelta(days=1)},
            reason="Typo in the end date",
            by=coordinator_site_a,
        )
    reported_event.refresh_from_db()
    assert reported_event.review_signature is not None
    assert reported_event.ended_at is None
    assert timezone.is_aware(reported_event.onset_at)


@pytest.mark.parametrize("field", ["onset_at", "ended_at"])
def test_adverse_event_times_cannot_be_in_the_future(randomized_site_a, coordinator_site_a, field):
    import datetime

    from django.utils import timezone

    from trials.safety.services import adverse_event_report

    values = ae_values(**{field: timezone.now() + datetime.timedelta(hours=2)})
    with pytest.raises(ValidationError) as caught:
        adverse_event_report(participant=randomized_site_a, values=values, by=coordinator_site_a)
    assert caught.value.message_dict == {field: ["This time is in the future."]}
