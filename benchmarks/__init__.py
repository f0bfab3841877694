"""Benchmarks: each figure is printed beside a baseline measured in the same run.

`make bench` runs them against a throw-away database on the same PostgreSQL as everything
else (embedded unless DATABASE_URL is set), created and dropped by the run.
"""
