"""POST /api/v1/trials/<code>/eligibility: a verdict on screening data, saving nothing."""

import json
import urllib.error
import urllib.request

import pytest
from django.apps import apps
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from screening.eligibility import check_eligibility
from tests.factories import COMP360_ELIGIBLE_DATA, PASSWORD, SponsorFactory
from trials.sponsor_api.models import SponsorApiKey

COMP360 = "COMP360-TRD-P3"
ELIGIBLE = COMP360_ELIGIBLE_DATA
NOT_FOUND = {"detail": "No Trial matches the given query."}


def url(code: str = COMP360) -> str:
    return reverse("api:trial_eligibility", args=[code])


def verdict(result, failed=(), missing=(), missing_fields=(), version=1):
    return {
        "result": result,
        "failed": list(failed),
        "missing": list(missing),
        "missing_fields": list(missing_fields),
        "protocol_version": version,
    }


def post(client, data, code: str = COMP360):
    return client.post(url(code), {"data": data}, format="json")


# --- verdicts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(ELIGIBLE, verdict("eligible"), id="eligible"),
        pytest.param(
            {**ELIGIBLE, "age_years": 17, "failed_adequate_treatments_current_episode": 1},
            verdict("ineligible", failed=["I1", "I7"]),
            id="ineligible-names-failed-criteria",
        ),
        pytest.param(
            {**ELIGIBLE, "ongoing_serious_psychiatric_comorbidity": True},
            verdict("ineligible", failed=["E2"]),
            id="ineligible-by-exclusion",
        ),
        pytest.param(
            {k: v for k, v in ELIGIBLE.items() if k != "madrs_total_baseline"},
            verdict("incomplete", missing=["I6"], missing_fields=["madrs_total_baseline"]),
            id="incomplete-names-missing-field",
        ),
        pytest.param(
            {**ELIGIBLE, "madrs_total_baseline": None},
            verdict("incomplete", missing=["I6"], missing_fields=["madrs_total_baseline"]),
            id="null-counts-as-missing",
        ),
        pytest.param(
            {**ELIGIBLE, "first_lifetime_episode": True, "current_episode_duration_months": None},
            verdict(
                "incomplete", missing=["I4"], missing_fields=["current_episode_duration_months"]
            ),
            id="first-episode-needs-its-duration",
        ),
    ],
)
def test_prescreen_returns_exactly_the_verdict_of_check_eligibility(
    api_client_of, coordinator_site_a, comp360_protocol, data, expected
):
    response = post(api_client_of(coordinator_site_a), data)
    assert response.status_code == 200
    assert response.json() == expected
    assert response.json() == check_eligibility(comp360_protocol, data)


def test_prescreen_of_empty_data_lists_every_criterion_as_missing(sponsor_client, comp360_protocol):
    body = post(sponsor_client, {}).json()
    criteria = [c["id"] for c in comp360_protocol.content["screening"]["criteria"]]
    assert body["result"] == "incomplete"
    assert body["missing"] == criteria
    assert body["failed"] == []


def raise_minimum_age_to_21(document: dict) -> None:
    document["screening"]["criteria"][0]["rule"]["value"] = 21


def test_prescreen_uses_the_trials_current_protocol_version(
    sponsor_client, comp360_protocol, protocol_amendment
):
    nineteen = {**ELIGIBLE, "age_years": 19}
    assert post(sponsor_client, nineteen).json() == verdict("eligible", version=1)
    protocol_amendment("comp360-trd-p3.yaml", raise_minimum_age_to_21)
    assert post(sponsor_client, nineteen).json() == verdict("ineligible", ["I1"], version=2)


# --- invalid data: 400 naming the field ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"age_years": 150}, {"age_years": ["150 is above the maximum 120 of field 'age_years'"]}),
        ({"age_years": -1}, {"age_years": ["-1 is below the minimum 0 of field 'age_years'"]}),
        ({"age_years": "42"}, {"age_years": ["expected an integer, got '42'"]}),
        ({"age_years": 42.5}, {"age_years": ["expected an integer, got 42.5"]}),
        ({"age_years": True}, {"age_years": ["expected an integer, got True"]}),
        (
            {"mdd_current_episode": "yes"},
            {"mdd_current_episode": ["expected true or false, got 'yes'"]},
        ),
        ({"shoe_size": 44}, {"shoe_size": ["unknown field"]}),
        (
            {"age_years": [42]},
            {
                "age_years": [
                    "Expected a single value (a string, a number or true/false), got an array."
                ]
            },
        ),
        (
            {"age_years": {"value": 42}},
            {
                "age_years": [
                    "Expected a single value (a string, a number or true/false), got an object."
                ]
            },
        ),
        (
            {"age_years": 150, "madrs_total_baseline": 61, "mdd_current_episode": True},
            {
                "age_years": ["150 is above the maximum 120 of field 'age_years'"],
                "madrs_total_baseline": [
                    "61 is above the maximum 60 of field 'madrs_total_baseline'"
                ],
            },
        ),
    ],
    ids=[
        "above-max",
        "below-min",
        "string-for-integer",
        "decimal-for-integer",
        "boolean-for-integer",
        "string-for-boolean",
        "unknown-field",
        "array",
        "object",
        "every-bad-field-at-once",
    ],
)
def test_prescreen_rejects_invalid_values_naming_the_field(
    sponsor_client, comp360_protocol, data, errors
):
    response = post(sponsor_client, data)
    assert response.status_code == 400
    assert response.json() == {"data": errors}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("item_004", "extreme", "'extreme' is not one of the choices of field 'item_004'"),
        ("item_003", "2020-13-01", "expected a date 'YYYY-MM-DD', got '2020-13-01'"),
        ("item_001", 10.5, "10.5 is above the maximum 10 of field 'item_001'"),
        ("item_005", 7, "expected a string, got 7"),
    ],
    ids=["choice", "date", "decimal-range", "text"],
)
def test_prescreen_rejects_bad_choices_dates_decimals_and_text_naming_the_field(
    sponsor_client, broad_protocol, field, value, message
):
    response = post(sponsor_client, {field: value}, code="BROAD-200")
    assert response.status_code == 400
    assert response.json() == {"data": {field: [message]}}


ENVELOPE_NOT_OBJECT = 'Expected a JSON object {"data": {field name: value}}, got '
DATA_NOT_OBJECT = "Expected an object {field name: value}, got "


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], ENVELOPE_NOT_OBJECT + "an array."),
        ("data", ENVELOPE_NOT_OBJECT + "a string."),
        (42, ENVELOPE_NOT_OBJECT + "a number."),
        (True, ENVELOPE_NOT_OBJECT + "true/false."),
        (None, ENVELOPE_NOT_OBJECT + "null."),
        ({}, "This field is required."),
        ({"datum": ELIGIBLE}, "This field is required."),
        ({"data": None}, "This field may not be null."),
        ({"data": [ELIGIBLE]}, DATA_NOT_OBJECT + "an array."),
        ({"data": "age_years=42"}, DATA_NOT_OBJECT + "a string."),
    ],
)
def test_prescreen_rejects_a_body_without_a_data_object_naming_data(
    sponsor_client, comp360_protocol, body, message
):
    response = sponsor_client.post(url(), json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"data": [message]}


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"data": {}', b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe{}", b'{"data": NaN}'],
    ids=["truncated", "unclosed", "nested-too-deep", "not-utf8", "nan"],
)
def test_prescreen_answers_unparseable_json_with_400(sponsor_client, comp360_protocol, raw):
    response = sponsor_client.post(url(), raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
SCREENING_DATA = st.dictionaries(
    st.sampled_from(sorted(ELIGIBLE)) | st.text(max_size=12), JSON_VALUES, max_size=12
)
BODIES = JSON_VALUES | st.fixed_dictionaries({"data": SCREENING_DATA | JSON_VALUES})


@pytest.mark.slow  # 150 generated bodies
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=BODIES)
def test_prescreen_never_fails_with_500_whatever_the_json(sponsor_client, comp360_protocol, body):
    response = sponsor_client.post(url(), json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400)
    assert response["Content-Type"] == "application/json"


def test_prescreen_refuses_a_form_encoded_body(sponsor_client, comp360_protocol):
    response = sponsor_client.post(url(), {"data": "age_years=42"}, format="multipart")
    assert response.status_code == 415


def test_prescreen_answers_only_post(sponsor_client, comp360_protocol):
    assert sponsor_client.get(url()).status_code == 405


# --- nothing is saved ---------------------------------------------------------------------------


def row_counts() -> dict[str, int]:
    """Rows in every table the project has, audit events and sessions included."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


@pytest.mark.parametrize(
    "data",
    [ELIGIBLE, {**ELIGIBLE, "age_years": 17}, {}, {"age_years": 150}],
    ids=["eligible", "ineligible", "incomplete", "invalid"],
)
def test_prescreen_saves_nothing(
    api_client_of, sponsor_client, coordinator_site_a, participant_site_a, comp360_protocol, data
):
    coordinator = api_client_of(coordinator_site_a)
    before = row_counts()
    assert before["trials.ProtocolVersion"] == 1
    assert before["trials.Participant"] == 1
    for client in (coordinator, sponsor_client):
        assert post(client, data).status_code in (200, 400)
    assert row_counts() == before


# --- who may ask --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member",
    [
        "coordinator_site_a",
        "coordinator_site_b",
        "facilitator_site_a",
        "investigator_site_b",
        "monitor",
        "sponsor_user",
    ],
)
def test_every_member_of_the_trial_may_prescreen(request, api_client_of, comp360_protocol, member):
    client = api_client_of(request.getfixturevalue(member))
    assert post(client, ELIGIBLE).json() == verdict("eligible")


def test_the_trials_sponsor_may_prescreen_with_its_api_key(sponsor_client, comp360_protocol):
    assert post(sponsor_client, ELIGIBLE).json() == verdict("eligible")


def _client_of(request, api_client_of, caller: str) -> APIClient:
    found = request.getfixturevalue(caller)
    return found if isinstance(found, APIClient) else api_client_of(found)


@pytest.mark.parametrize(
    "outsider", ["coordinator_other_trial", "user_without_trials", "other_sponsor_client"]
)
def test_trial_outside_ones_scope_is_not_found_exactly_like_an_unknown_trial(
    request, api_client_of, comp360_protocol, outsider
):
    client = _client_of(request, api_client_of, outsider)
    out_of_scope, unknown = post(client, ELIGIBLE), post(client, ELIGIBLE, code="NO-SUCH-TRIAL")
    assert (out_of_scope.status_code, out_of_scope.json()) == (404, NOT_FOUND)
    assert (unknown.status_code, unknown.json()) == (404, NOT_FOUND)


def test_member_asking_about_an_unknown_trial_gets_404(
    api_client_of, coordinator_site_a, comp360_protocol
):
    response = post(api_client_of(coordinator_site_a), ELIGIBLE, code="NO-SUCH-TRIAL")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_trial_without_a_protocol_version_is_not_found(api_client_of, coordinator_site_a):
    response = post(api_client_of(coordinator_site_a), ELIGIBLE)
    assert response.status_code == 404
    assert response.json() == {"detail": "This trial has no protocol loaded yet."}


@pytest.mark.parametrize("code", [COMP360, "NO-SUCH-TRIAL"])
def test_prescreen_without_credentials_is_401_asking_for_an_api_key(comp360_protocol, code):
    response = post(APIClient(), ELIGIBLE, code=code)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_session_post_needs_the_csrf_token(coordinator_site_a, comp360_protocol):
    client = APIClient(enforce_csrf_checks=True)
    client.get(reverse("login"))
    logged_in = client.post(
        reverse("login"),
        {
            "username": coordinator_site_a.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert logged_in.status_code == 302
    refused = post(client, ELIGIBLE)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    token = client.cookies["csrftoken"].value
    accepted = client.post(url(), {"data": ELIGIBLE}, format="json", HTTP_X_CSRFTOKEN=token)
    assert (accepted.status_code, accepted.json()) == (200, verdict("eligible"))


# --- query budget -------------------------------------------------------------------------------

# Session: session, user, trial, version, and the session saved (in a savepoint: 3 statements).
# Key: key, its sponsor, trial, version.
QUERY_BUDGET = {"coordinator": 7, "sponsor_key": 4}


def complete_data(version) -> dict[str, object]:
    """A valid value for every screening field of the version."""
    samples = {"boolean": False, "date": "2020-06-01", "text": "none", "decimal": 1.5}
    data: dict[str, object] = {}
    for field in version.content["screening"]["fields"]:
        if field["type"] == "integer":
            data[field["name"]] = field["min"] or 0
        elif field["type"] == "choice":
            data[field["name"]] = field["choices"][0]
        else:
            data[field["name"]] = samples[field["type"]]
    return data


@pytest.mark.parametrize(
    ("protocol", "criteria"), [("mapp1_protocol", 16), ("broad_protocol", 200)]
)
@pytest.mark.parametrize("caller", sorted(QUERY_BUDGET))
def test_prescreen_query_count_does_not_grow_with_the_criteria(
    request,
    django_assert_max_num_queries,
    api_client_of,
    key_client_of,
    coordinator_of,
    protocol,
    criteria,
    caller,
):
    version = request.getfixturevalue(protocol)
    assert len(version.content["screening"]["criteria"]) == criteria
    if caller == "coordinator":
        client = api_client_of(coordinator_of(version.trial))
    else:
        client = key_client_of(
            SponsorApiKey.objects.create_key(sponsor=version.trial.sponsor, name="budget")[1]
        )
    data = complete_data(version)
    with django_assert_max_num_queries(QUERY_BUDGET[caller]):
        response = post(client, data, code=version.trial.code)
    assert response.status_code == 200
    assert response.json() == check_eligibility(version, data)


# --- over real HTTP -----------------------------------------------------------------------------


def http_post(live_server, code: str, body: bytes, headers: dict[str, str]):
    """POST over a real socket; (status, headers, parsed JSON body) whatever the status."""
    request = urllib.request.Request(
        live_server.url + url(code),
        data=body,
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, json.load(error)


def test_sponsor_prescreens_over_real_http(live_server, comp360_protocol, sponsor_key):
    body = json.dumps({"data": {**ELIGIBLE, "age_years": 17}}).encode()
    status, headers, verdict_body = http_post(
        live_server, COMP360, body, {"Authorization": f"Api-Key {sponsor_key}"}
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert verdict_body == verdict("ineligible", ["I1"])


@pytest.mark.parametrize(
    ("authorization", "body", "expected_status", "expected_body"),
    [
        (
            "none",
            {"data": ELIGIBLE},
            401,
            {"detail": "Authentication credentials were not provided."},
        ),
        (
            "Api-Key abcdefgh.wrong",
            {"data": ELIGIBLE},
            401,
            {"detail": "Unknown, revoked or expired API key."},
        ),
        (
            "sponsor's key",
            {"data": {"age_years": 150}},
            400,
            {"data": {"age_years": ["150 is above the maximum 120 of field 'age_years'"]}},
        ),
        ("sponsor's key", [1, 2], 400, {"data": [ENVELOPE_NOT_OBJECT + "an array."]}),
    ],
    ids=["no-credentials", "unknown-key", "out-of-range", "not-an-object"],
)
def test_real_http_refusals_are_json_with_the_right_status(
    live_server, comp360_protocol, sponsor_key, authorization, body, expected_status, expected_body
):
    headers = {
        "none": {},
        "sponsor's key": {"Authorization": f"Api-Key {sponsor_key}"},
    }.get(authorization, {"Authorization": authorization})
    status, response_headers, answer = http_post(
        live_server, COMP360, json.dumps(body).encode(), headers
    )
    assert (status, answer) == (expected_status, expected_body)
    if status == 401:
        assert response_headers["WWW-Authenticate"] == "Api-Key"


def test_other_sponsors_key_finds_no_trial_over_real_http(live_server, comp360_protocol):
    other = SponsorFactory(name="Usona Institute")
    key = SponsorApiKey.objects.create_key(sponsor=other, name="Usona")[1]
    status, _, answer = http_post(
        live_server, COMP360, b'{"data": {}}', {"Authorization": f"Api-Key {key}"}
    )
    assert (status, answer) == (404, NOT_FOUND)


def test_prescreen_refuses_an_oversized_body_with_400(sponsor_client, comp360_protocol, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"data": {"age_years": 30}, "padding": "x" * 2000}
    response = sponsor_client.post("/api/v1/trials/COMP360-TRD-P3/eligibility", body, format="json")
    # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE) refuses it before the view runs.
    assert response.status_code == 400
