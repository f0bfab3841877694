"""Sponsor API keys: created once by command, stored hashed, refused when revoked or expired."""

import datetime
import io
import re
from pathlib import Path

import pytest
from django.contrib.admin.utils import quote
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import SponsorFactory, TrialFactory, UserFactory
from trials.sponsor_api.models import SponsorApiKey
from trials.study.services import protocol_load

COMP360_FILE = Path(__file__).resolve().parents[2] / "trials" / "protocols" / "comp360-trd-p3.yaml"
KEY_LINE = re.compile(r"^[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}$")


@pytest.fixture
def comp360_protocol(trial):
    """The cast's trial with its protocol loaded, so that pre-screening answers."""
    return protocol_load(content=COMP360_FILE.read_bytes(), filename=COMP360_FILE.name, by=None)[0]


@pytest.fixture
def other_sponsor(db):
    """Another sponsor, with a trial of their own."""
    other = SponsorFactory(name="Usona Institute")
    TrialFactory(code="USONA-MDD", sponsor=other)
    return other


@pytest.fixture
def data_manager(db):
    return UserFactory(username="data_manager", is_staff=True, is_superuser=True)


def create_key(*options: str) -> tuple[str, list[str]]:
    """Run create_sponsor_key; (the key printed, every output line)."""
    out = io.StringIO()
    call_command("create_sponsor_key", *options, stdout=out)
    lines = out.getvalue().splitlines()
    keys = [line for line in lines if KEY_LINE.match(line)]
    assert len(keys) == 1, lines
    return keys[0], lines


def prescreen(key: str, code: str = "COMP360-TRD-P3"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    url = reverse("api:trial_eligibility", args=[code])
    return client.post(url, {"data": {"age_years": 40}}, format="json")


def test_create_sponsor_key_prints_the_key_once_saying_it_cannot_be_shown_again(sponsor):
    key, lines = create_key("--sponsor", "Compass Pathways", "--name", "Nightly export")
    api_key = SponsorApiKey.objects.get()
    assert (api_key.sponsor, api_key.name, api_key.expiry_date) == (sponsor, "Nightly export", None)
    assert key.startswith(api_key.prefix + ".")
    assert lines[0] == (
        f"Created API key 'Nightly export' for Compass Pathways "
        f"(prefix {api_key.prefix}, does not expire):"
    )
    assert "cannot be shown again" in lines[-1]


def test_created_key_opens_its_sponsors_trial(comp360_protocol):
    key, _ = create_key("--sponsor", "Compass Pathways")
    response = prescreen(key)
    assert response.status_code == 200
    assert response.json()["protocol_version"] == comp360_protocol.number


def test_stored_key_is_a_hash_that_never_contains_the_key(sponsor):
    key, _ = create_key("--sponsor", "Compass Pathways")
    api_key = SponsorApiKey.objects.get()
    secret = key.partition(".")[2]
    assert api_key.hashed_key.startswith("sha512$$")
    assert key not in api_key.hashed_key
    assert secret not in api_key.hashed_key
    assert secret not in api_key.pk
    assert SponsorApiKey.objects.get_from_key(key) == api_key


def test_key_without_a_name_is_labelled_with_its_creation_day(sponsor):
    create_key("--sponsor", "Compass Pathways")
    assert SponsorApiKey.objects.get().name == f"Created {timezone.now():%Y-%m-%d}"


def test_expires_in_days_sets_the_expiry_date(sponsor):
    _, lines = create_key("--sponsor", "Compass Pathways", "--expires-in-days", "90")
    expected = timezone.now() + datetime.timedelta(days=90)
    expiry = SponsorApiKey.objects.get().expiry_date
    assert abs(expiry - expected) < datetime.timedelta(minutes=1)
    assert f"expires {expiry:%Y-%m-%d %H:%M} UTC" in lines[0]


def test_key_creation_is_audited_without_the_key(sponsor):
    key, _ = create_key("--sponsor", "Compass Pathways")
    event = SponsorApiKey.pgh_event_model.objects.get()  # type: ignore[attr-defined]  # set by pghistory
    assert event.pgh_label == "insert"
    assert event.pgh_context["reason"] == "API key created"
    assert "manage.py create_sponsor_key" in event.pgh_context["username"]
    assert key.partition(".")[2] not in str(vars(event))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--sponsor", "Compass"],
            "No sponsor named 'Compass'. Known sponsors: 'Compass Pathways', 'Usona Institute'.",
        ),
        (["--sponsor", "Compass Pathways", "--name", "x" * 51], "--name must be 1 to 50"),
        (["--sponsor", "Compass Pathways", "--name", "  "], "--name must be 1 to 50"),
        (
            ["--sponsor", "Compass Pathways", "--expires-in-days", "0"],
            "--expires-in-days must be at least 1.",
        ),
    ],
    ids=["unknown-sponsor", "long-name", "blank-name", "no-days"],
)
def test_create_sponsor_key_refuses_bad_arguments_and_creates_nothing(
    sponsor, other_sponsor, options, message
):
    with pytest.raises(CommandError) as error:
        call_command("create_sponsor_key", *options, stdout=io.StringIO())
    assert str(error.value).startswith(message)
    assert not SponsorApiKey.objects.exists()


def revoke(api_key: SponsorApiKey) -> None:
    api_key.revoked = True
    api_key.save()


def expire(api_key: SponsorApiKey) -> None:
    api_key.expiry_date = timezone.now() - datetime.timedelta(minutes=1)
    api_key.save()


@pytest.mark.parametrize("withdraw", [revoke, expire], ids=["revoked", "expired"])
def test_revoked_or_expired_key_is_refused_with_401(comp360_protocol, withdraw):
    key, _ = create_key("--sponsor", "Compass Pathways")
    assert prescreen(key).status_code == 200
    withdraw(SponsorApiKey.objects.get())
    response = prescreen(key)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown, revoked or expired API key."}
    assert response["WWW-Authenticate"] == "Api-Key"


def test_revoking_is_saved_for_good(sponsor):
    create_key("--sponsor", "Compass Pathways")
    revoke(SponsorApiKey.objects.get())
    api_key = SponsorApiKey.objects.get()
    assert api_key.revoked is True
    api_key.revoked = False
    with pytest.raises(ValidationError, match="revoked, which cannot be undone"):
        api_key.save()


def test_key_that_expires_later_still_works(comp360_protocol):
    key, _ = create_key("--sponsor", "Compass Pathways", "--expires-in-days", "1")
    assert prescreen(key).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["Api-Key", "Api-Key one two", "Api-Key nonsense", "Api-Key abcdefgh.wrongsecret"],
)
def test_malformed_or_unknown_key_is_refused_with_401(comp360_protocol, authorization):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    url = reverse("api:trial_eligibility", args=["COMP360-TRD-P3"])
    response = client.post(url, {"data": {}}, format="json")
    assert response.status_code == 401


def test_forged_key_with_a_real_prefix_is_refused_with_401(comp360_protocol):
    key, _ = create_key("--sponsor", "Compass Pathways")
    prefix = key.partition(".")[0]
    assert prescreen(f"{prefix}.{'A' * 32}").status_code == 401


def test_key_does_not_open_another_sponsors_trial(comp360_protocol, other_sponsor):
    key, _ = create_key("--sponsor", "Usona Institute")
    response = prescreen(key)
    assert response.status_code == 404
    assert response.json() == {"detail": "No Trial matches the given query."}


def test_admin_lists_keys_by_sponsor_and_searches_by_sponsor_name(
    client_of, data_manager, sponsor, other_sponsor
):
    create_key("--sponsor", "Compass Pathways", "--name", "Compass export")
    create_key("--sponsor", "Usona Institute", "--name", "Usona export")
    changelist = reverse("admin:trials_sponsorapikey_changelist")
    page = client_of(data_manager).get(changelist, {"q": "Usona"})
    assert page.status_code == 200
    assert "Usona export" in page.text
    assert "Compass export" not in page.text


def test_admin_does_not_move_a_key_to_another_sponsor(client_of, data_manager, sponsor):
    create_key("--sponsor", "Compass Pathways")
    api_key = SponsorApiKey.objects.get()
    page = client_of(data_manager).get(
        reverse("admin:trials_sponsorapikey_change", args=[quote(api_key.pk)])
    )
    assert page.status_code == 200
    assert 'name="sponsor"' not in page.text


def test_admin_adds_a_key_and_shows_it_once(client_of, data_manager, sponsor):
    client = client_of(data_manager)
    response = client.post(
        reverse("admin:trials_sponsorapikey_add"),
        {"sponsor": sponsor.pk, "name": "Admin key", "expiry_date_0": "", "expiry_date_1": ""},
        follow=True,
    )
    api_key = SponsorApiKey.objects.get()
    shown = re.search(r"The API key for Admin key is: (\S+)\. ", response.text)
    assert shown is not None
    assert (api_key.sponsor, api_key.name) == (sponsor, "Admin key")
    assert SponsorApiKey.objects.get_from_key(shown.group(1)) == api_key
    assert shown.group(1) not in client.get(reverse("admin:trials_sponsorapikey_changelist")).text
