"""The data manager's admin: protocol upload with the loader's validation, scoped models."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import UserFactory
from trials.study.models import ProtocolVersion, Trial

PROTOCOLS = Path(__file__).resolve().parents[2] / "trials" / "protocols"
UPLOAD = reverse("admin:trials_protocolversion_add")


@pytest.fixture
def data_manager(db):
    return UserFactory(username="data_manager", is_staff=True, is_superuser=True)


def _upload(client, name: str, content: str):
    return client.post(UPLOAD, {"protocol_file": SimpleUploadedFile(name, content.encode())})


def test_upload_loads_the_protocol_as_a_new_version(client_of, data_manager):
    response = _upload(
        client_of(data_manager), "mapp1.yaml", (PROTOCOLS / "mapp1.yaml").read_text()
    )
    version = ProtocolVersion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:trials_protocolversion_change", args=[version.pk])
    assert (version.trial.code, version.number, version.loaded_by) == ("MAPP1", 1, data_manager)


def test_bad_upload_lists_every_error_by_place_and_saves_nothing(client_of, data_manager):
    text = (PROTOCOLS / "mapp1.yaml").read_text().replace("op: ge", "op: gte")
    response = _upload(client_of(data_manager), "mapp1.yaml", text)
    assert response.status_code == 200
    assert "screening.criteria[0].rule.op: unknown operator &#x27;gte&#x27;" in response.text
    assert "screening.criteria[3].rule.op: unknown operator &#x27;gte&#x27;" in response.text
    assert not Trial.objects.exists()


def test_upload_of_identical_content_changes_nothing(client_of, data_manager):
    client = client_of(data_manager)
    text = (PROTOCOLS / "mapp1.yaml").read_text()
    _upload(client, "mapp1.yaml", text)
    response = _upload(client, "mapp1-again.yaml", text)
    assert response.status_code == 302
    assert ProtocolVersion.objects.count() == 1


def test_staff_without_permission_cannot_upload(client_of, db):
    clerk = UserFactory(username="clerk", is_staff=True)
    response = client_of(clerk).get(UPLOAD)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "model",
    [
        "sponsor",
        "trial",
        "site",
        "trialsite",
        "membership",
        "facilitator",
        "protocolversion",
        "notification",
        "exportrequest",
    ],
)
def test_admin_lists_open_for_the_data_manager(client_of, data_manager, model):
    response = client_of(data_manager).get(reverse(f"admin:trials_{model}_changelist"))
    assert response.status_code == 200


def test_a_notification_and_its_deliveries_are_read_only_in_the_admin(
    client_of, data_manager, booked_dosing_site_a
):
    from trials.notifications.models import Notification

    notification = Notification.objects.filter(visit=booked_dosing_site_a).first()
    client = client_of(data_manager)
    page = client.get(reverse("admin:trials_notification_change", args=[notification.pk]))
    assert page.status_code == 200 and notification.key in page.text
    response = client.post(
        reverse("admin:trials_notification_change", args=[notification.pk]), {"status": "sent"}
    )
    assert response.status_code == 403
    assert Notification.objects.get(pk=notification.pk).status == "pending"
