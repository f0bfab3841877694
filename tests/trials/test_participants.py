import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from tests.factories import MembershipFactory, TrialSiteFactory, contact_details, participant_at
from trials.participants.models import Participant, ParticipantContact
from trials.participants.services import participant_create
from trials.study.models import Role


def test_study_ids_follow_trial_site_and_number(
    trial_site_a, trial_site_b, coordinator_site_a, coordinator_site_b
):
    first = participant_at(trial_site_a, coordinator_site_a)
    second = participant_at(trial_site_a, coordinator_site_a)
    at_b = participant_at(trial_site_b, coordinator_site_b)
    assert [first.study_id, second.study_id, at_b.study_id] == [
        "COMP360-TRD-P3-LON-0001",
        "COMP360-TRD-P3-LON-0002",
        "COMP360-TRD-P3-NYC-0001",
    ]


def test_identity_is_stored_apart_from_the_clinical_record(trial_site_a, coordinator_site_a):
    participant = participant_at(trial_site_a, coordinator_site_a, family_name="Okafor")
    assert ParticipantContact.objects.get(participant=participant).family_name == "Okafor"
    clinical_columns = {field.name for field in Participant._meta.concrete_fields}
    assert clinical_columns.isdisjoint({"given_name", "family_name", "date_of_birth", "email"})


def test_a_number_is_never_given_again_even_after_a_failed_registration(
    trial_site_a, coordinator_site_a
):
    participant_at(trial_site_a, coordinator_site_a)
    with pytest.raises(ValidationError):
        participant_create(
            trial_site=trial_site_a,
            contact=contact_details(email="not-an-email"),
            by=coordinator_site_a,
        )
    assert participant_at(trial_site_a, coordinator_site_a).number == 2
    assert Participant.objects.count() == 2


def test_invalid_contact_saves_nothing(trial_site_a, coordinator_site_a):
    with pytest.raises(ValidationError) as error:
        participant_create(
            trial_site=trial_site_a, contact=contact_details(given_name=""), by=coordinator_site_a
        )
    assert "given_name" in error.value.message_dict
    assert not Participant.objects.exists()
    assert not ParticipantContact.objects.exists()


def test_inactive_site_takes_no_candidates(trial, coordinator_site_a):
    dormant = TrialSiteFactory.create(
        trial=trial, site__code="BER", is_active=False, activated_on=None
    )
    MembershipFactory.create(
        user=coordinator_site_a, trial=trial, site=dormant.site, role=Role.COORDINATOR
    )
    with pytest.raises(ValidationError, match="not active"):
        participant_at(dormant, coordinator_site_a)


def test_participants_cannot_be_deleted(participant_site_a):
    with pytest.raises(DatabaseError, match="Cannot delete"), transaction.atomic():
        Participant.objects.filter(pk=participant_site_a.pk).delete()
    with (
        pytest.raises(DatabaseError, match="Cannot delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM trials_participantcontact")


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_get_distinct_numbers(trial_site_a, coordinator_site_a):
    errors: list[BaseException] = []

    def register() -> None:
        try:
            participant_at(trial_site_a, coordinator_site_a)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(Participant.objects.values_list("number", flat=True))
    assert numbers == list(range(1, 9))
