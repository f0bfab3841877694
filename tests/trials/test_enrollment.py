"""Consent, randomization, unblinding and leaving the study, through the services."""

import datetime
import threading

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from tests.conftest import make_eligible
from tests.factories import PASSWORD, participant_at
from trials.enrollment.models import (
    AllocationList,
    AllocationSlot,
    Consent,
    ConsentFormVersion,
    StudyExit,
    needs_reconsent,
)
from trials.enrollment.services import (
    consent_record,
    participant_exit,
    participant_randomize,
    participant_unblind,
)
from trials.participants.models import Participant, Signature
from trials.sessions.models import Visit
from trials.sponsor_api.pseudonyms import pseudonym

Status = Participant.Status


def _consent(participant, form, by, **overrides):
    arguments = {
        "participant": participant,
        "form_version": form,
        "consented_at": timezone.now() - datetime.timedelta(minutes=5),
        "obtained_by": by,
        "participant_confirmed": True,
        "by": by,
        **overrides,
    }
    return consent_record(**arguments)


def _status(participant):
    return Participant.objects.get(pk=participant.pk).status


@pytest.fixture
def consented_site_a(eligible_site_a, consent_form, coordinator_site_a):
    _consent(eligible_site_a, consent_form, coordinator_site_a)
    eligible_site_a.refresh_from_db()
    return eligible_site_a


def test_consent_moves_an_eligible_signed_participant_to_consented(
    eligible_site_a, consent_form, coordinator_site_a
):
    consent = _consent(eligible_site_a, consent_form, coordinator_site_a)
    assert consent.form_version == consent_form
    assert _status(eligible_site_a) == Status.CONSENTED


def test_consent_needs_the_investigators_signature(
    comp360_protocol, participant_site_a, consent_form, coordinator_site_a
):
    from screening.services import screening_record, screening_start
    from tests.factories import COMP360_ELIGIBLE_DATA

    screening = screening_start(participant=participant_site_a, by=coordinator_site_a)
    screening_record(screening=screening, values=COMP360_ELIGIBLE_DATA, by=coordinator_site_a)
    participant_site_a.refresh_from_db()
    with pytest.raises(ValidationError, match="investigator must confirm eligibility"):
        _consent(participant_site_a, consent_form, coordinator_site_a)
    assert not Consent.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"participant_confirmed": False}, "participant_confirmed"),
        ({"consented_at": timezone.now() + datetime.timedelta(days=1)}, "consented_at"),
        ({"consented_at": datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)}, "consented_at"),
    ],
    ids=["unconfirmed", "future", "before-the-form-took-effect"],
)
def test_bad_consent_names_the_field_and_saves_nothing(
    eligible_site_a, consent_form, coordinator_site_a, overrides, field
):
    with pytest.raises(ValidationError) as error:
        _consent(eligible_site_a, consent_form, coordinator_site_a, **overrides)
    assert field in error.value.message_dict
    assert not Consent.objects.exists()
    assert _status(eligible_site_a) == Status.ELIGIBLE


def test_only_the_form_in_effect_can_be_recorded(
    eligible_site_a, consent_form, coordinator_site_a, trial
):
    newer = ConsentFormVersion.objects.create(
        trial=trial,
        label="ICF v2",
        approved_on=datetime.date(2026, 2, 1),
        effective_from=datetime.date(2026, 2, 10),
    )
    with pytest.raises(ValidationError) as error:
        _consent(eligible_site_a, consent_form, coordinator_site_a)
    assert error.value.message_dict["form_version"] == [
        "Only the form in effect, ICF v2, can be recorded."
    ]
    _consent(eligible_site_a, newer, coordinator_site_a)


def test_consent_is_obtained_by_the_site_team(
    eligible_site_a, consent_form, coordinator_site_a, facilitator_site_a
):
    with pytest.raises(ValidationError) as error:
        _consent(eligible_site_a, consent_form, coordinator_site_a, obtained_by=facilitator_site_a)
    assert "obtained_by" in error.value.message_dict


def test_a_new_form_flags_participants_in_the_study_until_they_reconsent(
    consented_site_a, consent_form, coordinator_site_a, trial
):
    today = timezone.now().date()

    def flagged():
        return list(Participant.objects.annotate(flag=needs_reconsent(today)).filter(flag=True))

    assert flagged() == []
    newer = ConsentFormVersion.objects.create(
        trial=trial, label="ICF v2", approved_on=today, effective_from=today
    )
    assert flagged() == [consented_site_a]
    with pytest.raises(ValidationError, match="Consent to the form now in effect"):
        participant_randomize(participant=consented_site_a, by=coordinator_site_a)
    _consent(consented_site_a, newer, coordinator_site_a)
    assert flagged() == []
    assert _status(consented_site_a) == Status.CONSENTED


def test_randomization_gives_a_concealed_slot_and_schedules_visits(
    consented_site_a, coordinator_site_a
):
    slot = participant_randomize(participant=consented_site_a, by=coordinator_site_a)
    assert slot.kit_code.startswith("K-") and slot.participant == consented_site_a
    assert slot.arm.code in {"P25", "P10", "P1"}
    assert _status(consented_site_a) == Status.RANDOMIZED
    visits = {v.event_code: v for v in Visit.objects.filter(participant=consented_site_a)}
    assert len(visits) == 13
    randomized_on = slot.allocated_at.astimezone(datetime.UTC).date()
    base, prep1 = visits["BASE"], visits["PREP1"]
    assert (base.status, base.target_date, base.window_start) == (
        "scheduled",
        randomized_on,
        randomized_on,
    )
    assert prep1.target_date == randomized_on + datetime.timedelta(days=2)
    assert prep1.window_end == randomized_on + datetime.timedelta(days=5)
    assert visits["INT1A"].status == "awaiting_dosing" and visits["INT1A"].target_date is None


def test_visit_dates_follow_the_sites_time_zone(
    comp360_protocol,
    trial_site_b,
    coordinator_site_b,
    investigator_site_b,
    consent_form,
    participant_site_b,
    monkeypatch,
):
    participant = make_eligible(participant_site_b, coordinator_site_b, investigator_site_b)
    _consent(participant, consent_form, coordinator_site_b)
    # 02:30 UTC on 10 March is still 9 March in New York.
    moment = datetime.datetime(2026, 3, 10, 2, 30, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    participant_randomize(participant=participant, by=coordinator_site_b)
    base = Visit.objects.get(participant=participant, event_code="BASE")
    assert base.target_date == datetime.date(2026, 3, 9)


@pytest.mark.parametrize("status", [Status.CANDIDATE, Status.SCREENING, Status.ELIGIBLE])
def test_randomization_before_consent_is_refused(eligible_site_a, coordinator_site_a, status):
    Participant.objects.filter(pk=eligible_site_a.pk).update(status=status)
    eligible_site_a.refresh_from_db()
    with pytest.raises(ValidationError, match="Only an eligible participant"):
        participant_randomize(participant=eligible_site_a, by=coordinator_site_a)
    assert not AllocationSlot.objects.filter(participant__isnull=False).exists()


def test_a_participant_is_randomized_once(consented_site_a, coordinator_site_a):
    participant_randomize(participant=consented_site_a, by=coordinator_site_a)
    with pytest.raises(ValidationError):
        participant_randomize(participant=consented_site_a, by=coordinator_site_a)
    assert AllocationSlot.objects.filter(participant=consented_site_a).count() == 1


def _enrolled(trial_site, coordinator, investigator, consent_form, count):
    participants = []
    for _ in range(count):
        participant = make_eligible(
            participant_at(trial_site, coordinator), coordinator, investigator
        )
        _consent(participant, consent_form, coordinator)
        participants.append(participant)
    return participants


def test_a_full_site_refuses_with_a_clear_message(
    comp360_protocol, trial_site_a, coordinator_site_a, investigator_site_a, consent_form
):
    trial_site_a.enrollment_cap = 1
    trial_site_a.save()
    first, second = _enrolled(
        trial_site_a, coordinator_site_a, investigator_site_a, consent_form, 2
    )
    participant_randomize(participant=first, by=coordinator_site_a)
    with pytest.raises(ValidationError, match="This site is full: its enrollment cap of 1"):
        participant_randomize(participant=second, by=coordinator_site_a)
    assert _status(second) == Status.CONSENTED


def test_a_full_trial_refuses_with_a_clear_message(
    comp360_protocol, trial, trial_site_a, coordinator_site_a, investigator_site_a, consent_form
):
    first, second = _enrolled(
        trial_site_a, coordinator_site_a, investigator_site_a, consent_form, 2
    )
    participant_randomize(participant=first, by=coordinator_site_a)
    type(trial).objects.filter(pk=trial.pk).update(target_enrollment=1)
    with pytest.raises(ValidationError, match="The trial is full"):
        participant_randomize(participant=second, by=coordinator_site_a)


def test_sites_are_separate_strata_with_their_own_lists(
    comp360_protocol,
    trial_site_a,
    trial_site_b,
    coordinator_site_a,
    investigator_site_a,
    coordinator_site_b,
    investigator_site_b,
    consent_form,
):
    (at_a,) = _enrolled(trial_site_a, coordinator_site_a, investigator_site_a, consent_form, 1)
    (at_b,) = _enrolled(trial_site_b, coordinator_site_b, investigator_site_b, consent_form, 1)
    participant_randomize(participant=at_a, by=coordinator_site_a)
    participant_randomize(participant=at_b, by=coordinator_site_b)
    assert set(AllocationList.objects.values_list("stratum", flat=True)) == {"site=LON", "site=NYC"}
    assert all(len(s.seed) == 32 for s in AllocationList.objects.all())


def test_allocations_follow_the_recorded_list_in_order(
    comp360_protocol, trial_site_a, coordinator_site_a, investigator_site_a, consent_form
):
    participants = _enrolled(trial_site_a, coordinator_site_a, investigator_site_a, consent_form, 4)
    slots = [participant_randomize(participant=p, by=coordinator_site_a) for p in participants]
    assert [slot.sequence for slot in slots] == [1, 2, 3, 4]
    from trials.enrollment.randomization import permuted_blocks

    listed = AllocationList.objects.get()
    expected = permuted_blocks(listed.seed, listed.ratio, listed.block_sizes, 4)[:4]
    assert [(s.arm.code, s.kit_code) for s in slots] == [(e.arm, e.kit_code) for e in expected]


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_requests_for_the_last_place_give_it_once(
    comp360_protocol, trial_site_a, coordinator_site_a, investigator_site_a, consent_form
):
    participants = _enrolled(
        trial_site_a, coordinator_site_a, investigator_site_a, consent_form, 20
    )
    trial_site_a.enrollment_cap = 1
    trial_site_a.save()
    outcomes: list[str] = []
    start = threading.Barrier(20)

    def randomize(participant):
        try:
            start.wait()
            participant_randomize(participant=participant, by=coordinator_site_a)
            outcomes.append("randomized")
        except ValidationError as error:
            outcomes.append(" ".join(error.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=randomize, args=(p,)) for p in participants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("randomized") == 1
    assert sum("This site is full" in outcome for outcome in outcomes) == 19
    assert AllocationSlot.objects.filter(participant__isnull=False).count() == 1


def test_emergency_unblinding_is_signed_audited_and_tells_the_sponsor(
    consented_site_a, coordinator_site_a, investigator_site_a, django_capture_on_commit_callbacks
):
    participant_randomize(participant=consented_site_a, by=coordinator_site_a)
    with django_capture_on_commit_callbacks(execute=True):
        unblinding = participant_unblind(
            participant=consented_site_a,
            investigator=investigator_site_a,
            password=PASSWORD,
            reason="Serotonin syndrome suspected in A&E",
        )
    assert unblinding.signature.meaning == Signature.Meaning.EMERGENCY_UNBLINDING
    by_address = {message.to[0]: message for message in mail.outbox}
    assert set(by_address) == {investigator_site_a.email, "safety@example.org"}
    # The sponsor reads its own pseudonym for the participant, never the site's study ID.
    to_sponsor = by_address["safety@example.org"]
    assert consented_site_a.study_id not in to_sponsor.subject + to_sponsor.body  # type: ignore[operator]  # str, not lazy
    assert pseudonym(consented_site_a.trial.sponsor.pseudonym_secret, consented_site_a.pk) in (
        to_sponsor.body
    )
    assert consented_site_a.study_id in by_address[investigator_site_a.email].body


@pytest.mark.parametrize(
    ("who", "password", "reason", "refusal", "message"),
    [
        ("coordinator_site_a", PASSWORD, "Emergency", PermissionDenied, "Only an investigator"),
        ("investigator_site_a", "guess", "Emergency", ValidationError, "password"),
        ("investigator_site_a", PASSWORD, "", ValidationError, "reason"),
    ],
)
def test_unblinding_refusals(
    request, consented_site_a, coordinator_site_a, who, password, reason, refusal, message
):
    participant_randomize(participant=consented_site_a, by=coordinator_site_a)
    with pytest.raises(refusal, match=message):
        participant_unblind(
            participant=consented_site_a,
            investigator=request.getfixturevalue(who),
            password=password,
            reason=reason,
        )
    assert not Signature.objects.filter(meaning=Signature.Meaning.EMERGENCY_UNBLINDING).exists()


def test_withdrawal_keeps_data_and_cancels_remaining_visits(consented_site_a, coordinator_site_a):
    participant_randomize(participant=consented_site_a, by=coordinator_site_a)
    participant_exit(
        participant=consented_site_a,
        kind="withdrawn",
        reason="withdrew_consent",
        details="",
        exited_on=timezone.now().date(),
        by=coordinator_site_a,
    )
    assert _status(consented_site_a) == Status.WITHDRAWN
    assert set(
        Visit.objects.filter(participant=consented_site_a).values_list("status", flat=True)
    ) == {"cancelled"}
    assert Consent.objects.filter(participant=consented_site_a).exists()
    assert StudyExit.objects.get().get_reason_display() == "Participant withdrew consent"


@pytest.mark.parametrize(
    ("kind", "reason", "details", "days", "message"),
    [
        ("completed", "completed_per_protocol", "", 0, "cannot"),
        ("withdrawn", "other", "", 0, "Explain an 'other' reason"),
        ("withdrawn", "withdrew_consent", "", -3, "future"),
        ("abducted", "withdrew_consent", "", 0, "kind"),
    ],
)
def test_exit_refusals(consented_site_a, coordinator_site_a, kind, reason, details, days, message):
    with pytest.raises(ValidationError, match=message):
        participant_exit(
            participant=consented_site_a,
            kind=kind,
            reason=reason,
            details=details,
            exited_on=timezone.now().date() - datetime.timedelta(days=days),
            by=coordinator_site_a,
        )
    assert _status(consented_site_a) == Status.CONSENTED
    assert not StudyExit.objects.exists()
