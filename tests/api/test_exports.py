"""GET /api/v1/trials/ and /api/v1/trials/<code>/<resource>/: who may read, what, and how."""

import csv
import datetime
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from trials.sessions.models import VitalSign
from trials.sponsor_api.exports import RESOURCES, column_names
from trials.sponsor_api.models import ExportRequest, SponsorApiKey

COMP360 = "COMP360-TRD-P3"
ALL = list(RESOURCES)


def url(resource: str, code: str = COMP360) -> str:
    return reverse(f"api:trial_{resource.replace('-', '_')}", args=[code])


def body(response) -> bytes:
    """A streamed body, read to its end (the test client then closes the response)."""
    return b"".join(response.streaming_content)


# --- access ------------------------------------------------------------------------------------


def test_trial_list_shows_only_the_keys_sponsors_trials(
    sponsor_client, other_sponsor_client, trial, trial_site_a, trial_site_b, other_trial
):
    response = sponsor_client.get(reverse("api:trial_list"))
    assert response.status_code == 200
    assert [t["code"] for t in response.json()["results"]] == [COMP360]
    assert response.json()["results"][0]["sites"] == ["LON", "NYC"]
    other = other_sponsor_client.get(reverse("api:trial_list")).json()["results"]
    assert [t["code"] for t in other] == ["USONA-MDD"]


@pytest.mark.parametrize("resource", ALL)
def test_another_sponsors_trial_is_404(other_sponsor_client, export_data, resource):
    assert other_sponsor_client.get(url(resource)).status_code == 404
    assert other_sponsor_client.get(url(resource), {"format": "csv"}).status_code == 404


def test_unknown_trial_code_is_404_and_logged(sponsor_client, sponsor, trial):
    assert sponsor_client.get(url("vitals", "NO-SUCH-TRIAL")).status_code == 404
    logged = ExportRequest.objects.get()
    assert (logged.sponsor, logged.trial, logged.status_code) == (sponsor, None, 404)


def test_no_key_is_401(client, trial):
    response = client.get(url("participants"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_unknown_key_is_401(key_client_of, trial):
    assert key_client_of("nope.nope").get(url("participants")).status_code == 401


def test_revoked_key_is_401(key_client_of, sponsor, trial):
    api_key, key = SponsorApiKey.objects.create_key(sponsor=sponsor, name="Old")
    client = key_client_of(key)
    assert client.get(url("participants")).status_code == 200
    api_key.revoked = True
    api_key.save()
    assert client.get(url("participants")).status_code == 401


def test_expired_key_is_401(key_client_of, sponsor, trial):
    api_key, key = SponsorApiKey.objects.create_key(
        sponsor=sponsor, name="Short", expiry_date=timezone.now() + datetime.timedelta(hours=1)
    )
    client = key_client_of(key)
    assert client.get(url("participants")).status_code == 200
    SponsorApiKey.objects.filter(pk=api_key.pk).update(
        expiry_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert client.get(url("participants")).status_code == 401
    assert ExportRequest.objects.count() == 1  # only the request made with a valid key


@pytest.mark.parametrize("user", ["coordinator_site_a", "monitor", "sponsor_user"])
def test_site_users_sessions_are_refused_403_whatever_the_trial(
    request, api_client_of, user, export_data
):
    client = api_client_of(request.getfixturevalue(user))
    assert client.get(url("participants")).status_code == 403
    assert client.get(url("participants", "NO-SUCH-TRIAL")).status_code == 403
    assert client.get(reverse("api:trial_list")).status_code == 403


# --- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"date_to": "soon"}, "date_to"),
        ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_to"),
        ({"site": "lon"}, "site"),
        ({"site": "PAR"}, "site"),
        ({"format": "xml"}, "format"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
    ],
)
def test_bad_parameter_is_400_naming_it(sponsor_client, export_data, params, field):
    response = sponsor_client.get(url("vitals"), params)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert ExportRequest.objects.get().status_code == 400


def test_site_filter(sponsor_client, export_data, participant_site_b):
    rows = sponsor_client.get(url("participants"), {"site": "LON"}).json()["results"]
    assert {row["site"] for row in rows} == {"LON"} and len(rows) == 1
    rows = sponsor_client.get(url("participants"), {"site": "NYC"}).json()["results"]
    assert {row["site"] for row in rows} == {"NYC"} and len(rows) == 1


def test_date_range_on_the_main_date(sponsor_client, sponsor, export_data):
    sponsor.export_profile = "limited"  # days may be asked for only where dates are kept
    sponsor.save()
    day = datetime.date(2026, 3, 2)
    inside = {"date_from": day.isoformat(), "date_to": day.isoformat()}
    assert len(sponsor_client.get(url("vitals"), inside).json()["results"]) == 3
    after = {"date_from": (day + datetime.timedelta(days=1)).isoformat()}
    assert sponsor_client.get(url("vitals"), after).json()["results"] == []
    before = {"date_to": (day - datetime.timedelta(days=1)).isoformat(), "format": "csv"}
    assert body(sponsor_client.get(url("vitals"), before)).decode().count("\n") == 1


def test_updated_since_returns_rows_written_since(sponsor_client, export_data):
    assert len(sponsor_client.get(url("vitals")).json()["results"]) == 3
    mark = timezone.now()
    assert (
        sponsor_client.get(url("vitals"), {"updated_since": mark.isoformat()}).json()["results"]
        == []
    )
    # A bulk update bypasses Django; the trigger still moves updated_at.
    first = VitalSign.objects.order_by("pk").first()
    VitalSign.objects.filter(pk=first.pk).update(heart_rate=99)
    rows = sponsor_client.get(url("vitals"), {"updated_since": mark.isoformat()}).json()["results"]
    assert [row["heart_rate"] for row in rows] == [99]


# --- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ALL)
def test_every_resource_in_every_format_has_the_same_rows(sponsor_client, export_data, resource):
    pages = sponsor_client.get(url(resource)).json()
    assert pages["results"], resource
    assert list(pages["results"][0]) == column_names(resource)

    response = sponsor_client.get(url(resource), {"format": "ndjson"})
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in body(response).decode().splitlines()]
    assert lines == pages["results"]

    response = sponsor_client.get(url(resource), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{COMP360}-{resource}.csv"' in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert len(table) == len(pages["results"])
    assert list(table[0]) == column_names(resource)
    assert [row["participant"] for row in table] == [r["participant"] for r in pages["results"]]


def test_cursor_pagination_walks_every_row_once(sponsor_client, export_data):
    seen, page = [], sponsor_client.get(url("vitals"), {"page_size": 2}).json()
    seen += page["results"]
    assert len(page["results"]) == 2 and page["next"]
    page = sponsor_client.get(page["next"]).json()
    seen += page["results"]
    assert len(seen) == 3 and page["next"] is None


def test_every_export_request_is_logged(sponsor_client, sponsor, sponsor_key, export_data):
    sponsor_client.get(url("vitals"), {"page_size": 2, "site": "LON"})
    response = sponsor_client.get(url("vitals"), {"format": "csv"})
    # A stream is logged when its last row is written.
    assert ExportRequest.objects.count() == 1
    body(response)
    page, stream = ExportRequest.objects.order_by("started_at")
    key = SponsorApiKey.objects.get_from_key(sponsor_key)
    assert (page.sponsor, page.api_key, page.trial.code) == (sponsor, key, COMP360)
    assert (page.resource, page.format, page.rows, page.status_code) == ("vitals", "json", 2, 200)
    assert page.query == "page_size=2&site=LON"
    assert (stream.format, stream.rows, stream.status_code) == ("csv", 3, 200)
    assert stream.finished_at >= stream.started_at


# --- queries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ALL)
def test_queries_per_json_page_do_not_grow_with_page_size(sponsor_client, export_data, resource):
    counts = []
    for size in (1, 500):
        with CaptureQueriesContext(connection) as captured:
            response = sponsor_client.get(url(resource), {"page_size": size})
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
    assert counts[1] <= 8


def test_queries_per_json_page_are_constant_with_many_rows(
    sponsor_client, export_data, django_assert_num_queries
):
    session = VitalSign.objects.first().dosing_session
    VitalSign.objects.bulk_create(
        VitalSign(
            dosing_session=session,
            participant_id=session.participant_id,
            measured_at=session.dosed_at + datetime.timedelta(seconds=i),
            systolic=120,
            diastolic=80,
            heart_rate=60,
            recorded_by_id=session.started_by_id,
        )
        for i in range(600)
    )
    sponsor_client.get(url("vitals"), {"page_size": 10})  # warm: content types, sessions
    # The key, its sponsor, the trial, the page, the log row.
    with django_assert_num_queries(5) as captured:
        rows = sponsor_client.get(url("vitals"), {"page_size": 10}).json()["results"]
    assert len(rows) == 10
    with django_assert_num_queries(len(captured)):
        rows = sponsor_client.get(url("vitals"), {"page_size": 500}).json()["results"]
    assert len(rows) == 500


def test_under_safe_harbor_a_date_filter_is_a_whole_year(sponsor_client, export_data):
    # A day-by-day filter would reveal, by bisection, the dates the export reduces to years.
    response = sponsor_client.get(
        url("vitals"), {"date_from": "2026-03-02", "date_to": "2026-03-02"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"date_from", "date_to"}
    year = {"date_from": "2026-01-01", "date_to": "2026-12-31"}
    assert len(sponsor_client.get(url("vitals"), year).json()["results"]) == 3
    assert sponsor_client.get(url("vitals"), {"date_from": "2027-01-01"}).json()["results"] == []


def test_a_stream_that_fails_midway_is_logged_as_failed(sponsor_client, export_data, monkeypatch):
    from trials.sponsor_api import exports

    def broken(*args, **kwargs):
        yield b"participant\n"
        raise RuntimeError("the database went away")

    monkeypatch.setattr(exports, "_buffered", lambda stream, pieces: broken())
    response = sponsor_client.get(url("vitals"), {"format": "ndjson"})
    with pytest.raises(RuntimeError):
        body(response)
    assert ExportRequest.objects.get().status_code == 500
