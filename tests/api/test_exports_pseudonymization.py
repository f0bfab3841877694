"""Sponsors never see who a participant is: allowlisted columns, pseudonyms, reduced dates."""

import csv
import datetime
import io
import json
import re

import pytest
from django.apps import apps
from django.urls import reverse

from tests.api.conftest import PLANTED
from tests.factories import SponsorFactory
from trials.participants.models import ParticipantContact
from trials.sponsor_api.exports import RESOURCES, column_names, export_rows
from trials.sponsor_api.models import SponsorApiKey
from trials.sponsor_api.pseudonyms import pseudonym
from trials.study.models import Sponsor, Trial

COMP360 = "COMP360-TRD-P3"
FORMATS = ["json", "csv", "ndjson"]
FORBIDDEN_KEYS = re.compile(
    r"(^id$|_id$|name|email|phone|address|birth|note|description|details|reason_text|"
    r"kit|lot|themes|plan|state|interventions|rescue|signature|_by$|data$)"
)
YEAR = re.compile(r"^\d{4}$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
ISO_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def url(resource: str) -> str:
    return reverse(f"api:trial_{resource.replace('-', '_')}", args=[COMP360])


def fetch(client, resource: str, fmt: str) -> tuple[str, list[dict]]:
    """The raw body and its rows, in any format."""
    response = client.get(url(resource), {"format": fmt, "page_size": 1000})
    assert response.status_code == 200
    if fmt == "json":
        text = response.content.decode()
        return text, json.loads(text)["results"]
    text = b"".join(response.streaming_content).decode()
    if fmt == "csv":
        return text, list(csv.DictReader(io.StringIO(text)))
    return text, [json.loads(line) for line in text.splitlines()]


BIRTH_YEAR = re.compile(r"(?<![0-9])1931(?![0-9])")


def set_profile(sponsor: Sponsor, profile: str) -> None:
    Sponsor.objects.filter(pk=sponsor.pk).update(export_profile=profile)


@pytest.mark.parametrize("profile", ["safe_harbor", "limited"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("resource", list(RESOURCES))
def test_no_identifying_value_or_key_in_any_export(
    sponsor_client, sponsor, export_data, resource, fmt, profile
):
    set_profile(sponsor, profile)
    text, rows = fetch(sponsor_client, resource, fmt)
    assert rows
    planted = [*PLANTED.values(), export_data.study_id, "KIT-PLANTED"]
    for value in planted:
        assert value not in text, f"{value!r} leaked in {resource}.{fmt}"
    # The birth year as a number of its own: not the digits inside a time's microseconds.
    assert not BIRTH_YEAR.search(text), f"the birth year leaked in {resource}.{fmt}"
    for row in rows:
        assert list(row) == column_names(resource)
        assert not [key for key in row if FORBIDDEN_KEYS.search(key)]
        assert row["participant"] == pseudonym(sponsor.pseudonym_secret, export_data.pk)
        assert row["site"] == "LON"


def _date_columns(resource: str) -> list[str]:
    return [column.name for column in RESOURCES[resource].columns if column.kind == "date"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("resource", list(RESOURCES))
def test_safe_harbor_reduces_every_date_to_its_year(sponsor_client, export_data, resource, fmt):
    text, rows = fetch(sponsor_client, resource, fmt)
    for row in rows:
        for name in _date_columns(resource):
            assert row[name] in (None, "") or YEAR.match(row[name]), (name, row[name])
    # Whatever a column is declared as: no month or day anywhere in the file.
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), re.search(r".{40}\d{4}-\d{2}-\d{2}", text)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("resource", list(RESOURCES))
def test_limited_profile_keeps_dates(sponsor_client, sponsor, export_data, resource, fmt):
    set_profile(sponsor, "limited")
    for row in fetch(sponsor_client, resource, fmt)[1]:
        for name in _date_columns(resource):
            value = row[name]
            assert value in (None, "") or ISO_TIME.match(value) or ISO_DAY.match(value), value


@pytest.mark.parametrize("fmt", FORMATS)
def test_limited_times_are_utc_iso_with_microseconds_only_when_present(
    sponsor_client, sponsor, export_data, fmt
):
    set_profile(sponsor, "limited")
    times = [row["measured_at"] for row in fetch(sponsor_client, "vitals", fmt)[1]]
    assert times == [
        "2026-03-02T09:30:15Z",
        "2026-03-02T10:00:15.000030Z",
        "2026-03-02T10:30:15.000060Z",
    ]
    exits = fetch(sponsor_client, "withdrawals", fmt)[1]
    assert ISO_DAY.match(exits[0]["exited_on"])


def test_pseudonym_is_stable_across_exports_and_formats(sponsor_client, export_data):
    names = {
        row["participant"]
        for fmt in FORMATS
        for resource in ("participants", "vitals")
        for _ in range(2)
        for row in fetch(sponsor_client, resource, fmt)[1]
    }
    assert len(names) == 1
    assert re.match(r"^P-[A-Z2-7]{12}$", names.pop())


def test_pseudonym_differs_between_sponsors(sponsor_client, key_client_of, export_data, trial):
    first = fetch(sponsor_client, "participants", "json")[1][0]["participant"]
    other = SponsorFactory.create(name="Usona Institute")
    Trial.objects.filter(pk=trial.pk).update(sponsor=other)
    other_client = key_client_of(SponsorApiKey.objects.create_key(sponsor=other, name="U")[1])
    second = fetch(other_client, "participants", "json")[1][0]["participant"]
    assert first != second
    assert second == pseudonym(other.pseudonym_secret, export_data.pk)


@pytest.mark.parametrize(
    ("born", "age"),
    [
        (datetime.date(1931, 2, 28), "90+"),  # 95 at consent
        (None, "90"),  # exactly 90 on the day of consent: '90+'
        (None, "89"),  # a day short of 90
    ],
)
def test_age_at_consent_is_computed_from_the_birth_date_and_ninety_up_is_one_category(
    sponsor, export_data, born, age
):
    consented = export_data.consents.order_by("consented_at").first().consented_at
    day = consented.astimezone(datetime.UTC).date()
    if age == "90":
        born, age = day.replace(year=day.year - 90), "90+"
    elif age == "89":
        born = day.replace(year=day.year - 90) + datetime.timedelta(days=1)
    ParticipantContact.objects.filter(participant=export_data).update(date_of_birth=born)
    rows = list(
        export_rows(sponsor=sponsor, trial=export_data.trial, resource="participants", params={})
    )
    assert rows[0]["age_at_consent"] == age


@pytest.mark.parametrize("fmt", FORMATS)
def test_arm_is_hidden_in_blinded_trials_and_shown_in_open_label_ones(
    sponsor_client, export_data, trial, fmt
):
    assert [row["arm"] for row in fetch(sponsor_client, "allocations", fmt)[1]] in (
        [None],
        [""],
    )
    Trial.objects.filter(pk=trial.pk).update(open_label=True)
    arm = export_data.allocation.arm.code
    assert [row["arm"] for row in fetch(sponsor_client, "allocations", fmt)[1]] == [arm]


def test_screening_data_never_leave(sponsor_client, export_data):
    screening_model = apps.get_model("screening", "Screening")
    screening_model.objects.filter(participant=export_data).update(
        data={"age_years": 34, "comment": PLANTED["note"]}
    )
    for fmt in FORMATS:
        text, rows = fetch(sponsor_client, "screenings", fmt)
        assert PLANTED["note"] not in text and "age_years" not in text
        assert rows[0]["result"] == "eligible"
