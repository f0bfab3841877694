"""Dashboard figures as SVG: the CONSORT flow, enrollment over time, visits this week."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trials.dashboards.queries import Consort, Enrollment, SiteWeek


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    content: str
    css: str = ""
    anchor: str = "start"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str = ""


@dataclass(frozen=True)
class Line:
    points: str
    css: str = ""
    arrow: bool = False
    title: str = ""


@dataclass
class Figure:
    width: int
    height: int
    description: str
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)


def svg_points(*points: tuple[float, float]) -> str:
    """An SVG polyline's points attribute, to a tenth of a pixel."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _count(number: int) -> str:
    return f"{number:,}"


# The CONSORT flow: a main column of steps, side boxes for exclusions and arms, exits below.
FLOW_WIDTH = 760
MAIN_X, MAIN_WIDTH = 30, 290
SIDE_X, SIDE_WIDTH = 390, 340
BOX_HEIGHT, LINE_HEIGHT, GAP = 40, 18, 44
CRITERION_CHARACTERS = 42


def consort_figure(consort: Consort) -> Figure:
    """The flow diagram: screened to randomized in a column, exclusions to the side."""
    figure = Figure(FLOW_WIDTH, 0, _consort_description(consort))
    steps = [
        ("Screened", consort.screened, _failures_box(consort)),
        ("Eligible", consort.eligible, None),
        ("Consented", consort.consented, None),
        ("Randomized", consort.randomized, _arms_box(consort)),
        ("Dosed", consort.dosed, None),
    ]
    y, side_bottom, previous_bottom = 20.0, 0.0, None
    for label, count, side in steps:
        if previous_bottom is not None:
            _arrow_down(figure, previous_bottom, y)
        _box(figure, MAIN_X, y, MAIN_WIDTH, label, count, "step")
        bottom = y + BOX_HEIGHT
        y = bottom + GAP
        if side is not None:
            side_bottom, y = _side_box(figure, side, bottom, side_bottom)
        elif label == "Randomized":
            figure.texts.append(Text(SIDE_X, bottom - 15, "Arms masked (blinded)", "note"))
        previous_bottom = bottom
    dosed_bottom = previous_bottom or 0.0
    figure.height = int(_exits(figure, consort, dosed_bottom, max(dosed_bottom, side_bottom)) + 20)
    return figure


def _consort_description(consort: Consort) -> str:
    arms = (
        "; ".join(f"{arm.label} {arm.count}" for arm in consort.arms)
        if consort.arms is not None
        else "arms masked"
    )
    return (
        f"Screened {consort.screened}, screen failed {consort.screen_failed}, eligible "
        f"{consort.eligible}, consented {consort.consented}, randomized {consort.randomized} "
        f"({arms}), dosed {consort.dosed}, completed {consort.completed}, withdrawn "
        f"{consort.withdrawn}, lost to follow-up {consort.lost_to_follow_up}."
    )


def _failures_box(consort: Consort) -> tuple[str, int, list[tuple[str, int]]]:
    lines = [
        (f"{criterion.code}  {_shorten(criterion.text)}", criterion.count)
        for criterion in consort.failures
    ]
    return ("Screen failed", consort.screen_failed, lines)


def _arms_box(consort: Consort) -> tuple[str, int, list[tuple[str, int]]] | None:
    if consort.arms is None:
        return None
    lines = [(_shorten(arm.label), arm.count) for arm in consort.arms]
    return ("Allocated by arm", consort.randomized, lines)


def _shorten(text: str) -> str:
    if len(text) <= CRITERION_CHARACTERS:
        return text
    return text[: CRITERION_CHARACTERS - 1].rstrip() + "…"


def _box(
    figure: Figure, x: float, y: float, width: float, label: str, count: int, css: str
) -> None:
    figure.rects.append(Rect(x, y, width, BOX_HEIGHT, f"box {css}"))
    figure.texts.append(Text(x + 12, y + 25, label, "label"))
    figure.texts.append(Text(x + width - 12, y + 25, _count(count), "count", "end"))


def _arrow_down(figure: Figure, top: float, bottom: float) -> None:
    centre = MAIN_X + MAIN_WIDTH / 2
    figure.lines.append(Line(svg_points((centre, top), (centre, bottom)), "arrow", arrow=True))


def _side_box(
    figure: Figure,
    side: tuple[str, int, list[tuple[str, int]]],
    step_bottom: float,
    side_bottom: float,
) -> tuple[float, float]:
    """A box to the right of the column, fed from the arrow below a step; returns its bottom
    and where the next step goes."""
    label, count, lines = side
    arrow_y = max(step_bottom + GAP / 2, side_bottom + 24)
    top = arrow_y - BOX_HEIGHT / 2
    height = BOX_HEIGHT + LINE_HEIGHT * len(lines) + (6 if lines else 0)
    figure.rects.append(Rect(SIDE_X, top, SIDE_WIDTH, height, "box side"))
    figure.texts.append(Text(SIDE_X + 12, top + 25, label, "label"))
    figure.texts.append(Text(SIDE_X + SIDE_WIDTH - 12, top + 25, _count(count), "count", "end"))
    for row, (text, number) in enumerate(lines, start=1):
        line_y = top + 25 + LINE_HEIGHT * row
        figure.texts.append(Text(SIDE_X + 16, line_y, text, "detail"))
        figure.texts.append(Text(SIDE_X + SIDE_WIDTH - 12, line_y, _count(number), "detail", "end"))
    centre = MAIN_X + MAIN_WIDTH / 2
    figure.lines.append(Line(svg_points((centre, arrow_y), (SIDE_X, arrow_y)), "arrow", arrow=True))
    return top + height, max(step_bottom + GAP, arrow_y + GAP / 2)


def _exits(figure: Figure, consort: Consort, dosed_bottom: float, above: float) -> float:
    """Completed, withdrawn, lost to follow-up side by side under everything above; returns
    the bottom."""
    exits = [
        ("Completed", consort.completed),
        ("Withdrawn", consort.withdrawn),
        ("Lost to follow-up", consort.lost_to_follow_up),
    ]
    width = (FLOW_WIDTH - 2 * MAIN_X - 2 * 20) / len(exits)
    fork_y, top = above + GAP / 2, above + GAP
    centres = [MAIN_X + index * (width + 20) + width / 2 for index in range(len(exits))]
    centre = MAIN_X + MAIN_WIDTH / 2
    figure.lines.append(Line(svg_points((centre, dosed_bottom), (centre, fork_y)), "arrow"))
    figure.lines.append(Line(svg_points((centres[0], fork_y), (centres[-1], fork_y)), "arrow"))
    for (label, count), middle in zip(exits, centres, strict=True):
        figure.lines.append(Line(svg_points((middle, fork_y), (middle, top)), "arrow", arrow=True))
        _box(figure, middle - width / 2, top, width, label, count, "exit")
    return top + BOX_HEIGHT


# Enrollment over time: one line per site, the total, the target and the sites' caps.
CHART_WIDTH, CHART_HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 160, 24, 76
MAX_WEEK_LABELS = 8
SERIES = 6


@dataclass(frozen=True)
class _Scale:
    weeks: int
    top_value: int

    def x(self, index: int) -> float:
        return LEFT + (CHART_WIDTH - LEFT - RIGHT) * index / max(self.weeks - 1, 1)

    def y(self, value: float) -> float:
        return TOP + (CHART_HEIGHT - TOP - BOTTOM) * (1 - value / self.top_value)


def enrollment_figure(enrollment: Enrollment) -> Figure:
    """Cumulative randomizations per site by week against the trial's target and sites' caps."""
    figure = Figure(CHART_WIDTH, CHART_HEIGHT, _enrollment_description(enrollment))
    highest = max([enrollment.target, *_caps(enrollment), *enrollment.total, 1])
    step = _nice_step(highest / 5)
    scale = _Scale(len(enrollment.weeks), math.ceil(highest / step) * step)
    _axes(figure, enrollment, scale, step)
    series = [
        (f"series-{index % SERIES}", site.code, site.cumulative)
        for index, site in enumerate(enrollment.sites)
    ]
    if len(enrollment.sites) > 1:
        series.append(("total", "All sites", enrollment.total))
    for css, label, values in series:
        points = svg_points(*((scale.x(i), scale.y(v)) for i, v in enumerate(values)))
        title = f"{label}: {values[-1]:,} randomized"
        figure.lines.append(Line(points, f"series {css}", title=title))
    _rules(figure, enrollment, scale)
    _legend(figure, [(css, f"{label} ({values[-1]:,})") for css, label, values in series])
    return figure


def _enrollment_description(enrollment: Enrollment) -> str:
    sites = ", ".join(f"{site.code} {site.randomized}" for site in enrollment.sites)
    return (
        f"Cumulative randomizations by week since {enrollment.weeks[0]:%Y-%m-%d}: {sites}; "
        f"trial target {enrollment.target}."
    )


def _caps(enrollment: Enrollment) -> list[int]:
    return [site.cap for site in enrollment.sites if site.cap is not None]


def _nice_step(rough: float) -> int:
    """1, 2 or 5 times a power of ten: round numbers on the axis."""
    power = 10 ** max(math.floor(math.log10(max(rough, 1))), 0)
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def _axes(figure: Figure, enrollment: Enrollment, scale: _Scale, step: int) -> None:
    right, bottom = CHART_WIDTH - RIGHT, CHART_HEIGHT - BOTTOM
    for value in range(0, scale.top_value + 1, step):
        y = scale.y(value)
        figure.lines.append(Line(svg_points((LEFT, y), (right, y)), "grid"))
        figure.texts.append(Text(LEFT - 8, y + 4, f"{value:,}", "tick", "end"))
    every = math.ceil(len(enrollment.weeks) / MAX_WEEK_LABELS)
    for index, week in enumerate(enrollment.weeks):
        if index % every == 0:
            x = scale.x(index)
            figure.lines.append(Line(svg_points((x, bottom), (x, bottom + 5)), "axis"))
            figure.texts.append(Text(x, bottom + 18, f"{week.day} {week:%b}", "tick", "middle"))
    figure.lines.append(Line(svg_points((LEFT, TOP), (LEFT, bottom), (right, bottom)), "axis"))
    figure.texts.append(Text(LEFT, TOP - 10, "Randomized (cumulative)", "caption"))
    figure.texts.append(
        Text((LEFT + right) / 2, bottom + 36, "Week starting (UTC)", "caption", "middle")
    )


def _rules(figure: Figure, enrollment: Enrollment, scale: _Scale) -> None:
    """The target and each distinct cap as horizontal lines, labelled at the right."""
    rules = [(enrollment.target, f"Target {enrollment.target:,}", "target")]
    caps: dict[int, list[str]] = {}
    for site in enrollment.sites:
        if site.cap is not None:
            caps.setdefault(site.cap, []).append(site.code)
    rules += [(cap, f"Cap {cap:,} ({', '.join(codes)})", "cap") for cap, codes in caps.items()]
    label_y = -math.inf
    for value, label, kind in sorted(rules, key=lambda rule: -rule[0]):
        y = scale.y(value)
        line = Line(svg_points((LEFT, y), (CHART_WIDTH - RIGHT, y)), f"rule {kind}", title=label)
        figure.lines.append(line)
        label_y = max(y + 4, label_y + 14)
        figure.texts.append(Text(CHART_WIDTH - RIGHT + 8, label_y, label, f"rule-label {kind}"))


def _legend(figure: Figure, entries: list[tuple[str, str]]) -> None:
    y = CHART_HEIGHT - 14
    for index, (css, label) in enumerate(entries):
        x = LEFT + index * 150
        figure.lines.append(Line(svg_points((x, y - 4), (x + 22, y - 4)), f"series {css}"))
        figure.texts.append(Text(x + 28, y, label, "legend"))


# Visits due this week: one horizontal bar per site.
BAR_LEFT, BAR_RIGHT, ROW_HEIGHT = 190, 130, 34


def visits_figure(week: list[SiteWeek]) -> Figure:
    """Visits due in the coming seven days, one bar per site."""
    height = 20 + ROW_HEIGHT * max(len(week), 1)
    description = "; ".join(f"{site.code}: {site.visits_due} visits due" for site in week)
    figure = Figure(CHART_WIDTH, height, description or "No sites.")
    most = max([site.visits_due for site in week] + [1])
    room = CHART_WIDTH - BAR_LEFT - BAR_RIGHT
    for index, site in enumerate(week):
        y = 10 + ROW_HEIGHT * index
        width = room * site.visits_due / most
        figure.rects.append(
            Rect(BAR_LEFT, y + 6, width, ROW_HEIGHT - 12, f"bar series-{index % SERIES}")
        )
        figure.texts.append(
            Text(BAR_LEFT - 10, y + 22, f"{site.name} ({site.code})", "label", "end")
        )
        figure.texts.append(Text(BAR_LEFT + width + 8, y + 22, _count(site.visits_due), "count"))
    figure.lines.append(Line(svg_points((BAR_LEFT, 6), (BAR_LEFT, height - 6)), "axis"))
    return figure
