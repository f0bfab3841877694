from unittest import mock

import pytest
from django.db import OperationalError, connection


@pytest.mark.smoke  # the test database is migrated; PostgreSQL and Redis answer
def test_healthz_reports_database_and_redis(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok", "status": "ok"}


def test_healthz_is_503_when_redis_is_down(client, db, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/no-redis-here.sock"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "unavailable", "status": "unavailable"}


def test_healthz_is_503_when_the_database_is_down(client, db):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("gone")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


def test_healthz_needs_no_login_and_only_answers_get(client, db):
    assert client.post("/healthz").status_code == 405
