"""The OpenAPI schema covers the whole API, Swagger UI is served locally, and schemathesis
finds no server error anywhere in it with a sponsor's key."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from registry.wsgi import application
from trials.sponsor_api.exports import RESOURCES

EXPORT_PARAMETERS = {
    "format",
    "cursor",
    "page_size",
    "updated_since",
    "site",
    "date_from",
    "date_to",
}


@pytest.fixture
def openapi(client, db):
    response = client.get(reverse("api:schema"), {"format": "json"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    import json

    return json.loads(response.content)


def test_every_endpoint_is_in_the_schema_with_its_parameters(openapi):
    paths = openapi["paths"]
    assert "/api/v1/trials/" in paths
    assert "post" in paths["/api/v1/trials/{code}/eligibility"]
    for resource in RESOURCES:
        operation = paths[f"/api/v1/trials/{{code}}/{resource}/"]["get"]
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert names >= EXPORT_PARAMETERS, resource
        content = operation["responses"]["200"]["content"]
        assert {"application/json", "text/csv", "application/x-ndjson"} <= set(content)
        for code in ("400", "401", "403", "404"):
            assert code in operation["responses"]


def test_swagger_ui_is_served_from_the_projects_own_static_files(client, db):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "//unpkg" not in page


@pytest.fixture
def wsgi_schema(db, export_data):
    """The schema, called in-process through the project's WSGI application.

    Like Django's test client, requests keep the test's database connection (and transaction):
    the handlers that close it at the end of each request are off meanwhile.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


COMP360 = "COMP360-TRD-P3"
CALLS = {"count": 0}


@pytest.mark.slow  # schemathesis over the whole schema
def test_no_server_error_anywhere_with_a_sponsor_key(wsgi_schema, sponsor_key):
    """Every operation of the schema, a bounded number of generated requests each."""
    headers = {"Authorization": f"Api-Key {sponsor_key}"}
    operations = [result.ok() for result in wsgi_schema.get_all_operations()]
    statuses: set[int] = set()
    assert len(operations) >= len(RESOURCES) + 2
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case):
            # Every other case names the cast's trial, so real exports are fuzzed, not only 404s.
            CALLS["count"] += 1
            if "code" in (case.path_parameters or {}) and CALLS["count"] % 2:
                case.path_parameters["code"] = COMP360
            response = case.call(headers=headers)
            statuses.add(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

        no_server_error()
    # The fuzzing reached real exports and their parameter checks, not only 404s.
    assert {200, 400, 404} <= statuses, statuses
