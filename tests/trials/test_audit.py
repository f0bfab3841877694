"""The audit trail: database triggers record who, when, old and new values and why."""

import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from pghistory.models import Events

from trials.participants.models import Participant, ParticipantContact
from trials.participants.queries import participant_audit_trail
from trials.participants.services import participant_change_status, participant_contact_update


def _events(participant):
    return participant_audit_trail(participant, with_identity=True)


def test_registration_is_recorded_with_user_and_values(participant_site_a, coordinator_site_a):
    inserted = [entry for entry in _events(participant_site_a) if entry.action == "insert"]
    assert [entry.record for entry in inserted] == ["Participant", "ParticipantContact"]
    participant_insert = inserted[0]
    assert participant_insert.username == "coordinator_a"
    assert participant_insert.reason == "Candidate registered"
    assert ("status", None, "candidate") in participant_insert.changes
    assert participant_insert.at.tzinfo is not None


def test_status_change_records_old_new_and_reason(participant_site_a, investigator_site_a):
    participant_change_status(
        participant=participant_site_a,
        to_status="screening",
        reason="Screening visit booked",
        by=investigator_site_a,
    )
    update = _events(participant_site_a)[-1]
    assert update.action == "update"
    assert update.username == "investigator_a"
    assert update.reason == "Screening visit booked"
    assert ("status", "candidate", "screening") in update.changes


def test_queryset_update_cannot_bypass_the_trail(participant_site_a):
    Participant.objects.filter(pk=participant_site_a.pk).update(status="screening")
    update = _events(participant_site_a)[-1]
    assert update.changes == [("status", "candidate", "screening")]
    assert update.username == "system"


def test_raw_sql_update_cannot_bypass_the_trail(participant_site_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE trials_participantcontact SET phone = %s WHERE participant_id = %s",
            ["+1 555 0100", participant_site_a.pk],
        )
    update = _events(participant_site_a)[-1]
    assert update.record == "ParticipantContact"
    assert update.changes == [("phone", "+44 20 7946 0000", "+1 555 0100")]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE trials_participantevent SET status = 'completed'",
        "DELETE FROM trials_participantevent",
    ],
)
def test_audit_tables_reject_update_and_delete(participant_site_a, statement):
    with (
        pytest.raises(DatabaseError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert Events.objects.references(participant_site_a).count() == 2


def test_contact_correction_requires_a_reason_in_the_form(
    client_of, coordinator_site_a, participant_site_a
):
    url = reverse("participant_contact_edit", args=[participant_site_a.study_id])
    form = {
        "given_name": "Alexa",
        "family_name": "Vandermolen-Quist",
        "date_of_birth": "1984-03-14",
        "phone": "",
        "email": "",
        "address": "",
        "reason": "",
    }
    response = client_of(coordinator_site_a).post(url, form)
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    assert ParticipantContact.objects.get(participant=participant_site_a).given_name == "Alex"

    response = client_of(coordinator_site_a).post(url, {**form, "reason": "Spelling on ID card"})
    assert response.status_code == 302
    update = _events(participant_site_a)[-1]
    assert ("given_name", "Alex", "Alexa") in update.changes
    assert update.reason == "Spelling on ID card"
    assert update.username == "coordinator_a"


def test_contact_correction_service_refuses_a_missing_reason(
    participant_site_a, coordinator_site_a
):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        participant_contact_update(
            participant=participant_site_a, changes={"phone": "1"}, reason="", by=coordinator_site_a
        )
    assert ParticipantContact.objects.get(participant=participant_site_a).phone.startswith("+44")


def test_audit_page_lists_every_change(client_of, coordinator_site_a, participant_site_a):
    participant_change_status(
        participant=participant_site_a,
        to_status="screening",
        reason="Booked for screening",
        by=coordinator_site_a,
    )
    page = client_of(coordinator_site_a).get(
        reverse("participant_audit", args=[participant_site_a.study_id])
    )
    assert page.status_code == 200
    assert "Booked for screening" in page.text
    assert "candidate →" in page.text
    assert "Vandermolen-Quist" in page.text  # contact insert shown to the care team


def test_audit_page_hides_identity_changes_from_monitors(client_of, monitor, participant_site_a):
    page = client_of(monitor).get(reverse("participant_audit", args=[participant_site_a.study_id]))
    assert page.status_code == 200
    assert "Vandermolen-Quist" not in page.text
    assert "Candidate registered" in page.text


def test_audit_csv_download(client_of, coordinator_site_a, participant_site_a):
    participant_change_status(
        participant=participant_site_a,
        to_status="screening",
        reason="Booked for screening",
        by=coordinator_site_a,
    )
    response = client_of(coordinator_site_a).get(
        reverse("participant_audit_csv", args=[participant_site_a.study_id])
    )
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    status_rows = [row for row in rows if row["field"] == "status"]
    assert [(row["old"], row["new"], row["reason"]) for row in status_rows] == [
        ("", "candidate", "Candidate registered"),
        ("candidate", "screening", "Booked for screening"),
    ]
    assert all(row["user"] == "coordinator_a" for row in rows)


def test_audit_page_query_count_does_not_grow_with_events(
    client_of, coordinator_site_a, participant_site_a, django_assert_max_num_queries
):
    client = client_of(coordinator_site_a)
    url = reverse("participant_audit", args=[participant_site_a.study_id])
    with django_assert_max_num_queries(10) as few:
        client.get(url)
    for number in range(10):
        participant_contact_update(
            participant=participant_site_a,
            changes={"phone": f"+44 {number}"},
            reason=f"Correction {number}",
            by=coordinator_site_a,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    assert "Correction 9" in page.text
