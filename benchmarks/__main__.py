"""Run every benchmark against a throw-away database: `python -m benchmarks [name ...]`."""

import importlib
import os
import sys

import django

BENCHMARKS = ["eligibility", "participants", "exports", "reminders"]


def main(names: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    # Each benchmark seeds its own data, so each gets a fresh database of its own: never the
    # development data, never a test run's database; named by BENCH_DATABASE_NAME so parallel
    # runs do not clash.
    name = os.environ.get("BENCH_DATABASE_NAME", "dyad_bench")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    for benchmark in names or BENCHMARKS:
        database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        host = connection.settings_dict["HOST"]
        print(f"\n== {benchmark}, on a fresh database '{database}' ({host})")
        try:
            importlib.import_module(f"benchmarks.{benchmark}").run()
        finally:
            connection.creation.destroy_test_db(database, verbosity=0)


if __name__ == "__main__":
    main(sys.argv[1:])
