"""Benchmarks: each figure is printed beside a baseline measured in the same run.

`make bench` runs every one of them, each against a throw-away database of its own on the same
PostgreSQL as everything else (embedded unless DATABASE_URL is set), created before the
benchmark and dropped after it, so no benchmark sees another's data.
"""
