"""Settings refuse to start unsafe, and pass Django's deployment checks with production values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test starts manage.py in a subprocess
BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 64 + "-production-secret-of-sufficient-length",
    "DATABASE_URL": "postgres://dyad:secret@db.internal:5432/dyad",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "ALLOWED_HOSTS": "dyad.example.org",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"])
def test_production_start_up_stops_when_a_variable_is_missing(missing):
    env = {name: value for name, value in PRODUCTION.items() if name != missing}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_deploy_checks_pass_with_production_values():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_debug_defaults_to_off():
    result = _manage("check", **{k: v for k, v in PRODUCTION.items() if k != "DEBUG"})
    assert result.returncode == 0, result.stderr
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        **{k: v for k, v in PRODUCTION.items() if k != "DEBUG"},
    )
    assert result.stdout.strip().endswith("False")
