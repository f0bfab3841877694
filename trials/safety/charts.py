"""A participant's instrument scores over time as an SVG line chart."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from trials.dashboards.charts import svg_points

if TYPE_CHECKING:
    from trials.safety.queries import Instrument, InstrumentScores


# The chart: one line per scale over time, each scaled to its own range.
WIDTH, HEIGHT = 560, 250
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 30, 74
Y_TICKS = 5
MAX_DATE_TICKS = 5
SERIES = 6
LEGEND_SPACING = 170


@dataclass(frozen=True)
class Tick:
    x: str
    y: str
    label: str


@dataclass(frozen=True)
class Point:
    x: str
    y: str
    title: str


@dataclass(frozen=True)
class Series:
    code: str
    css: str
    points: str
    markers: list[Point]
    legend: Tick
    legend_line: str


@dataclass(frozen=True)
class ScoresChart:
    """What `_scores_chart.svg.html` draws, placed here: coordinates as SVG-ready strings."""

    width: int
    height: int
    description: str
    axis: str
    y_caption: Tick
    x_caption: Tick
    y_ticks: list[Tick]
    grid: list[str]
    x_ticks: list[Tick]
    series: list[Series]


def scores_chart(scores: list[InstrumentScores], *, time_zone: str) -> ScoresChart | None:
    """An SVG line chart of each scale's totals by date of assessment at the site (None if none)."""
    if not scores:
        return None
    zone = ZoneInfo(time_zone)
    days = sorted(
        {a.assessed_at.astimezone(zone).date() for line in scores for a in line.assessments}
    )
    scale = _Scale(days[0], days[-1])
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    y_ticks, grid = _y_ticks(scores, scale)
    return ScoresChart(
        width=WIDTH,
        height=HEIGHT,
        description=_description(scores, zone),
        axis=svg_points((LEFT, TOP), (LEFT, bottom), (right, bottom)),
        y_caption=Tick(_n(LEFT - 44), _n(TOP - 14), _y_caption(scores)),
        x_caption=Tick(_n((LEFT + right) / 2), _n(bottom + 36), f"Date assessed ({time_zone})"),
        y_ticks=y_ticks,
        grid=grid,
        x_ticks=[Tick(_n(scale.x(day)), _n(bottom + 18), f"{day:%Y-%m-%d}") for day in _pick(days)],
        series=[_series(index, line, scale, zone) for index, line in enumerate(scores)],
    )


@dataclass(frozen=True)
class _Scale:
    first: datetime.date
    last: datetime.date

    def x(self, day: datetime.date) -> float:
        span = (self.last - self.first).days
        if span == 0:
            return (LEFT + WIDTH - RIGHT) / 2
        return LEFT + (WIDTH - LEFT - RIGHT) * (day - self.first).days / span

    def y(self, fraction: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - fraction)


def _fraction(score: Decimal, instrument: Instrument) -> float:
    return float((score - instrument.minimum) / (instrument.maximum - instrument.minimum))


def _y_ticks(scores: list[InstrumentScores], scale: _Scale) -> tuple[list[Tick], list[str]]:
    """Real values for one scale; percentages of each scale's range for several."""
    only = scores[0].instrument if len(scores) == 1 else None
    ticks, grid = [], []
    for step in range(Y_TICKS):
        fraction = step / (Y_TICKS - 1)
        y = scale.y(fraction)
        if only is not None:
            label = score_text(only.minimum + (only.maximum - only.minimum) * Decimal(fraction))
        else:
            label = f"{fraction:.0%}"
        ticks.append(Tick(_n(LEFT - 8), _n(y + 4), label))
        grid.append(svg_points((LEFT, y), (WIDTH - RIGHT, y)))
    return ticks, grid


def _y_caption(scores: list[InstrumentScores]) -> str:
    if len(scores) == 1:
        return f"{scores[0].instrument.code} total"
    return "Score, % of each scale's range"


def _pick(days: list[datetime.date]) -> list[datetime.date]:
    """At most MAX_DATE_TICKS dates, spread evenly, first and last included."""
    if len(days) <= MAX_DATE_TICKS:
        return days
    last = len(days) - 1
    indexes = sorted({round(i * last / (MAX_DATE_TICKS - 1)) for i in range(MAX_DATE_TICKS)})
    return [days[i] for i in indexes]


def _series(index: int, line: InstrumentScores, scale: _Scale, zone: ZoneInfo) -> Series:
    instrument = line.instrument
    placed = [
        (
            scale.x(a.assessed_at.astimezone(zone).date()),
            scale.y(_fraction(a.score, instrument)),
            f"{instrument.code} {score_text(a.score)} at {a.visit.label}, "
            f"{a.assessed_at.astimezone(zone):%Y-%m-%d}",
        )
        for a in line.assessments
    ]
    legend_x, legend_y = LEFT + index * LEGEND_SPACING, HEIGHT - 10
    return Series(
        code=instrument.code,
        css=f"series-{index % SERIES}",
        points=svg_points(*((x, y) for x, y, _ in placed)),
        markers=[Point(_n(x), _n(y), title) for x, y, title in placed],
        legend=Tick(_n(legend_x + 28), _n(legend_y), f"{instrument.range_text}"),
        legend_line=svg_points((legend_x, legend_y - 4), (legend_x + 22, legend_y - 4)),
    )


def _description(scores: list[InstrumentScores], zone: ZoneInfo) -> str:
    return "; ".join(
        f"{line.instrument.code}: "
        + ", ".join(
            f"{score_text(a.score)} on {a.assessed_at.astimezone(zone):%Y-%m-%d}"
            for a in line.assessments
        )
        for line in scores
    )


def score_text(value: Decimal) -> str:
    """A score as people write it: 32, 12.5."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _n(value: float) -> str:
    return f"{value:.1f}"
