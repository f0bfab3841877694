import pytest
from django.core.exceptions import ValidationError

from trials.participants.models import PARTICIPANT_TRANSITIONS, Participant
from trials.participants.services import participant_change_status

Status = Participant.Status
ALL_PAIRS = [(source, target) for source in Status.values for target in Status.values]
ALLOWED = {
    (source, target) for source, targets in PARTICIPANT_TRANSITIONS.items() for target in targets
}


def _put_in(participant, status):
    # Tests set up a starting state directly; the move under test goes through the service.
    Participant.objects.filter(pk=participant.pk).update(status=status)
    participant.refresh_from_db()


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=[f"{s}->{t}" for s, t in ALL_PAIRS])
def test_change_status_follows_the_lifecycle_table(
    source, target, participant_site_a, coordinator_site_a
):
    _put_in(participant_site_a, source)
    if (source, target) in ALLOWED:
        participant_change_status(
            participant=participant_site_a,
            to_status=target,
            reason="per protocol",
            by=coordinator_site_a,
        )
        assert Participant.objects.get(pk=participant_site_a.pk).status == target
    else:
        with pytest.raises(ValidationError) as error:
            participant_change_status(
                participant=participant_site_a,
                to_status=target,
                reason="per protocol",
                by=coordinator_site_a,
            )
        assert "status" in error.value.message_dict
        assert Participant.objects.get(pk=participant_site_a.pk).status == source


def test_final_statuses_allow_no_further_move():
    final = {Status.COMPLETED, Status.WITHDRAWN, Status.LOST_TO_FOLLOW_UP}
    assert final.isdisjoint(PARTICIPANT_TRANSITIONS)
    assert set(Status.values) - final == set(PARTICIPANT_TRANSITIONS)


def test_change_status_requires_a_reason(participant_site_a, coordinator_site_a):
    with pytest.raises(ValidationError) as error:
        participant_change_status(
            participant=participant_site_a,
            to_status=Status.SCREENING,
            reason="  ",
            by=coordinator_site_a,
        )
    assert error.value.message_dict == {"reason": ["Give the reason for this change."]}
    participant_site_a.refresh_from_db()
    assert participant_site_a.status == Status.CANDIDATE


def test_change_status_rejects_an_unknown_status(participant_site_a, coordinator_site_a):
    with pytest.raises(ValidationError) as error:
        participant_change_status(
            participant=participant_site_a,
            to_status="cured",
            reason="per protocol",
            by=coordinator_site_a,
        )
    assert error.value.message_dict == {"status": ["Unknown status 'cured'."]}


def test_database_rejects_a_status_outside_the_lifecycle(participant_site_a):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.filter(pk=participant_site_a.pk).update(status="cured")
