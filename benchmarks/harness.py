"""Timing helpers: best of several runs, printed beside the baseline of the same run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: float
    items: int

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")


def best_of(label: str, function: Callable[[], object], *, items: int, repeat: int = 3) -> Timing:
    """The fastest of `repeat` runs: the least disturbed by the rest of the machine."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return Timing(label, min(times), items)


def report(title: str, measured: Timing, baseline: Timing, note: str = "") -> None:
    """Print a figure beside its baseline, with the ratio between them."""
    ratio = measured.seconds / baseline.seconds if baseline.seconds else float("inf")
    print(f"\n{title}")
    for timing in (measured, baseline):
        print(
            f"  {timing.label:<52} {timing.seconds * 1000:10.1f} ms"
            f"  {timing.per_second:14,.0f} /s  ({timing.items:,} items)"
        )
    print(f"  ratio {ratio:.2f}x{'  ' + note if note else ''}")
