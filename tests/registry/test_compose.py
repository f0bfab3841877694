"""docker-compose.yml describes the production shape and Docker Compose accepts it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
REQUIRED = {"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "dyad.example.org", "POSTGRES_PASSWORD": "pw"}


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("docker-compose is not installed: run `make system-packages` (`make test` does)")


def test_compose_file_has_the_production_services_with_health_checks():
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" in services["web"]["command"]


@pytest.mark.slow  # runs docker-compose
def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE_FILE), "config", "--quiet"],
        env={**os.environ, **REQUIRED},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow  # runs docker-compose
def test_docker_compose_refuses_to_start_without_secrets():
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    result = subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE_FILE), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "set " in result.stderr
