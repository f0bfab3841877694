"""Page cursors are sealed: a sponsor cannot read a row's primary key from one, nor forge one."""

import base64
from urllib import parse

import pytest
from django.urls import reverse

from tests.api.test_exports import url
from trials.sessions.models import VitalSign
from trials.sponsor_api import cursors


def _cursor(link):
    return parse.parse_qs(parse.urlsplit(link).query)["cursor"][0]


def test_a_cursor_does_not_carry_the_rows_primary_key(sponsor_client, export_data):
    page = sponsor_client.get(url("vitals"), {"page_size": 1}).json()
    token = _cursor(page["next"])
    first = VitalSign.objects.order_by("pk").first()
    path = reverse("api:trial_vitals", args=["COMP360-TRD-P3"])
    assert cursors.unseal(token) == f"{path}\np={first.pk}"  # DRF would show it in base64
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert f"p={first.pk}".encode() not in raw


def test_the_same_position_seals_differently_each_time():
    assert cursors.seal("p=41") != cursors.seal("p=41")
    assert cursors.unseal(cursors.seal("p=41")) == "p=41"


@pytest.mark.parametrize(
    "forged",
    [
        base64.b64encode(b"p=1").decode(),  # DRF's own, unsealed format
        cursors.seal("p=1")[:-2] + "AA",  # tampered
        cursors.seal("o=x&p=1"),  # sealed but not a cursor
        "",
    ],
    # Named, not shown: a sealed value differs at every collection (its nonce is random).
    ids=["unsealed", "tampered", "not-a-cursor", "empty"],
)
def test_a_cursor_not_sealed_here_is_a_400_naming_the_parameter(
    sponsor_client, export_data, forged
):
    response = sponsor_client.get(url("vitals"), {"cursor": forged})
    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_a_cursor_from_another_endpoint_is_a_400(sponsor_client, export_data):
    trials_page = sponsor_client.get(reverse("api:trial_list"), {"page_size": 1}).json()
    vitals_page = sponsor_client.get(url("vitals"), {"page_size": 1}).json()
    for link, other in (
        (trials_page["next"], url("vitals")),
        (vitals_page["next"], url("assessments")),
    ):
        if link is None:
            continue
        response = sponsor_client.get(other, {"cursor": _cursor(link)})
        assert response.status_code == 400, link
        assert list(response.json()) == ["cursor"]
    assert vitals_page["next"] is not None
