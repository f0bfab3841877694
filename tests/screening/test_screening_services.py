"""Screening services: data in, verdicts stored with their protocol version, status follows."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from screening.models import Screening, ScreeningEvaluation
from screening.services import (
    screening_apply_version,
    screening_confirm,
    screening_record,
    screening_start,
    screenings_apply_current_version,
)
from tests.factories import PASSWORD, participant_at
from tests.screening.conftest import ELIGIBLE_DATA, load_amendment
from trials.participants.models import Participant, Signature
from trials.participants.queries import participant_audit_trail
from trials.participants.services import participant_change_status

Status = Participant.Status


def _status(participant):
    return Participant.objects.get(pk=participant.pk).status


def _record(screening, by, reason="", **values):
    return screening_record(screening=screening, values=values, by=by, reason=reason)


def test_start_opens_an_incomplete_screening_under_the_current_protocol(
    screening_site_a, participant_site_a, protocol_v1
):
    assert screening_site_a.protocol_version == protocol_v1
    assert screening_site_a.result == "incomplete"
    assert screening_site_a.missing == ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "E1", "E2"]
    assert _status(participant_site_a) == Status.SCREENING
    assert screening_site_a.evaluations.count() == 1


def test_start_needs_a_loaded_protocol(participant_site_a, coordinator_site_a):
    with pytest.raises(ValidationError, match="no protocol"):
        screening_start(participant=participant_site_a, by=coordinator_site_a)
    assert _status(participant_site_a) == Status.CANDIDATE


@pytest.mark.parametrize("status", [Status.SCREENING, Status.ELIGIBLE, Status.CONSENTED])
def test_start_refuses_a_participant_past_candidacy(
    protocol_v1, participant_site_a, coordinator_site_a, status
):
    Participant.objects.filter(pk=participant_site_a.pk).update(status=status)
    participant_site_a.refresh_from_db()
    with pytest.raises(ValidationError, match="cannot start a screening"):
        screening_start(participant=participant_site_a, by=coordinator_site_a)


def test_partial_data_leaves_the_verdict_incomplete_with_what_is_missing(
    screening_site_a, coordinator_site_a, participant_site_a
):
    _record(screening_site_a, coordinator_site_a, age_years=34, mdd_current_episode=True)
    screening = Screening.objects.get(pk=screening_site_a.pk)
    assert screening.result == "incomplete"
    assert "I1" not in screening.missing and "I3" in screening.missing
    assert "madrs_total_screening" in screening.missing_fields
    assert _status(participant_site_a) == Status.SCREENING


def test_complete_eligible_data_makes_the_participant_eligible(
    screening_site_a, coordinator_site_a, participant_site_a
):
    _record(screening_site_a, coordinator_site_a, **ELIGIBLE_DATA)
    screening = Screening.objects.get(pk=screening_site_a.pk)
    assert (screening.result, screening.failed, screening.missing) == ("eligible", [], [])
    assert _status(participant_site_a) == Status.ELIGIBLE
    assert screening.evaluations.first().data == ELIGIBLE_DATA


def test_a_failed_criterion_makes_the_participant_a_screen_failure(
    screening_site_a, coordinator_site_a, participant_site_a
):
    _record(screening_site_a, coordinator_site_a, **{**ELIGIBLE_DATA, "age_years": 17})
    screening = Screening.objects.get(pk=screening_site_a.pk)
    assert (screening.result, screening.failed) == ("ineligible", ["I1"])
    assert _status(participant_site_a) == Status.SCREEN_FAILED


def test_invalid_value_names_the_field_and_saves_nothing(screening_site_a, coordinator_site_a):
    with pytest.raises(ValidationError) as error:
        _record(screening_site_a, coordinator_site_a, age_years=150, madrs_total_screening=12)
    assert list(error.value.message_dict) == ["age_years"]
    assert Screening.objects.get(pk=screening_site_a.pk).data == {}
    assert ScreeningEvaluation.objects.count() == 1


def test_changing_a_saved_value_needs_a_reason(
    screening_site_a, coordinator_site_a, participant_site_a
):
    _record(screening_site_a, coordinator_site_a, age_years=34)
    with pytest.raises(ValidationError) as error:
        _record(screening_site_a, coordinator_site_a, age_years=43)
    assert error.value.message_dict == {"reason": ["Give the reason for this change."]}
    _record(screening_site_a, coordinator_site_a, reason="Transposed digits", age_years=43)
    assert Screening.objects.get(pk=screening_site_a.pk).data == {"age_years": 43}
    changes = [
        e
        for e in participant_audit_trail(participant_site_a, with_identity=False)
        if e.record == "Screening" and e.reason == "Transposed digits"
    ]
    assert changes and ("data", {"age_years": 34}, {"age_years": 43}) in changes[-1].changes


def test_clearing_a_saved_value_needs_a_reason(screening_site_a, coordinator_site_a):
    _record(screening_site_a, coordinator_site_a, age_years=34)
    with pytest.raises(ValidationError):
        _record(screening_site_a, coordinator_site_a, age_years=None)
    _record(screening_site_a, coordinator_site_a, reason="Entered for wrong person", age_years=None)
    assert Screening.objects.get(pk=screening_site_a.pk).data == {}


def test_investigator_confirms_eligibility_with_a_signature(
    screening_site_a, coordinator_site_a, investigator_site_a
):
    _record(screening_site_a, coordinator_site_a, **ELIGIBLE_DATA)
    signature = screening_confirm(
        screening=screening_site_a, investigator=investigator_site_a, password=PASSWORD
    )
    assert signature.meaning == Signature.Meaning.ELIGIBILITY_CONFIRMED
    assert signature.printed_name == investigator_site_a.get_full_name()
    assert Screening.objects.get(pk=screening_site_a.pk).confirmation == signature


def test_wrong_password_signs_nothing(screening_site_a, coordinator_site_a, investigator_site_a):
    _record(screening_site_a, coordinator_site_a, **ELIGIBLE_DATA)
    with pytest.raises(ValidationError) as error:
        screening_confirm(
            screening=screening_site_a, investigator=investigator_site_a, password="guess"
        )
    assert "password" in error.value.message_dict
    assert not Signature.objects.exists()


@pytest.mark.parametrize("signer", ["coordinator_site_a", "investigator_site_b"])
def test_only_an_investigator_of_the_site_signs(
    request, screening_site_a, coordinator_site_a, signer
):
    _record(screening_site_a, coordinator_site_a, **ELIGIBLE_DATA)
    with pytest.raises(PermissionDenied, match="Only an investigator"):
        screening_confirm(
            screening=screening_site_a,
            investigator=request.getfixturevalue(signer),
            password=PASSWORD,
        )
    assert not Signature.objects.exists()


def test_an_incomplete_screening_cannot_be_signed(screening_site_a, investigator_site_a):
    with pytest.raises(ValidationError, match="incomplete"):
        screening_confirm(
            screening=screening_site_a, investigator=investigator_site_a, password=PASSWORD
        )


def test_override_of_an_ineligible_verdict_needs_a_justification(
    screening_site_a, coordinator_site_a, investigator_site_a, participant_site_a
):
    _record(screening_site_a, coordinator_site_a, **{**ELIGIBLE_DATA, "madrs_total_baseline": 19})
    with pytest.raises(ValidationError) as error:
        screening_confirm(
            screening=screening_site_a, investigator=investigator_site_a, password=PASSWORD
        )
    assert "statement" in error.value.message_dict
    signature = screening_confirm(
        screening=screening_site_a,
        investigator=investigator_site_a,
        password=PASSWORD,
        statement="Baseline MADRS 19 within rater error; sponsor medical monitor agreed.",
    )
    assert signature.meaning == Signature.Meaning.INELIGIBILITY_OVERRIDDEN
    assert _status(participant_site_a) == Status.ELIGIBLE


def test_new_data_after_signing_withdraws_the_signature(
    screening_site_a, coordinator_site_a, investigator_site_a, participant_site_a
):
    _record(screening_site_a, coordinator_site_a, **ELIGIBLE_DATA)
    screening_confirm(
        screening=screening_site_a, investigator=investigator_site_a, password=PASSWORD
    )
    _record(
        screening_site_a, coordinator_site_a, reason="Rater correction", madrs_total_baseline=25
    )
    screening = Screening.objects.get(pk=screening_site_a.pk)
    assert screening.confirmation is None
    assert Signature.objects.count() == 1  # what was signed stays on record


def test_signatures_cannot_be_altered(screening_site_a, coordinator_site_a, investigator_site_a):
    from django.db import DatabaseError, transaction

    _record(screening_site_a, coordinator_site_a, **ELIGIBLE_DATA)
    screening_confirm(
        screening=screening_site_a, investigator=investigator_site_a, password=PASSWORD
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        Signature.objects.update(printed_name="Someone else")


def test_a_new_version_reevaluates_and_keeps_the_old_verdict(
    screening_site_a, coordinator_site_a, participant_site_a, protocol_v1
):
    _record(screening_site_a, coordinator_site_a, **ELIGIBLE_DATA)
    v2 = load_amendment(
        "field: madrs_total_baseline\n      op: ge\n      value: 20",
        "field: madrs_total_baseline\n      op: ge\n      value: 30",
    )
    screening_apply_version(
        screening=screening_site_a, version=v2, by=coordinator_site_a, reason="Amendment 1 approved"
    )
    screening = Screening.objects.get(pk=screening_site_a.pk)
    assert (screening.protocol_version, screening.result, screening.failed) == (
        v2,
        "ineligible",
        ["I6"],
    )
    history = list(screening.evaluations.values_list("protocol_version__number", "result"))
    assert history[:2] == [(2, "ineligible"), (1, "eligible")]
    assert _status(participant_site_a) == Status.SCREEN_FAILED


def test_data_that_no_longer_fit_the_new_version_are_reported_not_applied(
    screening_site_a, coordinator_site_a, trial_site_a, protocol_v1
):
    _record(screening_site_a, coordinator_site_a, **ELIGIBLE_DATA)
    load_amendment("    min: 0\n    max: 120", "    min: 0\n    max: 30")
    moved, refused = screenings_apply_current_version(
        trial_site=trial_site_a, by=coordinator_site_a, reason="Amendment 2"
    )
    assert moved == []
    assert list(refused) == [screening_site_a.participant.study_id]
    assert "age_years" in refused[screening_site_a.participant.study_id]
    assert Screening.objects.get(pk=screening_site_a.pk).protocol_version == protocol_v1


def test_rescreening_closes_the_previous_screening(
    screening_site_a, coordinator_site_a, participant_site_a
):
    _record(screening_site_a, coordinator_site_a, **{**ELIGIBLE_DATA, "age_years": 17})
    participant_site_a.refresh_from_db()
    second = screening_start(participant=participant_site_a, by=coordinator_site_a)
    assert Screening.objects.get(pk=screening_site_a.pk).closed_at is not None
    assert second.is_open and _status(participant_site_a) == Status.SCREENING
    with pytest.raises(ValidationError, match="closed"):
        _record(screening_site_a, coordinator_site_a, reason="late", age_years=40)


def test_withdrawn_candidates_keep_their_screening(
    screening_site_a, coordinator_site_a, participant_site_a, trial_site_a
):
    participant_change_status(
        participant=participant_site_a,
        to_status=Status.WITHDRAWN,
        reason="Moved abroad",
        by=coordinator_site_a,
    )
    assert Screening.objects.filter(participant=participant_site_a).exists()
    other = participant_at(trial_site_a, coordinator_site_a)
    assert other.study_id.endswith("0002")
