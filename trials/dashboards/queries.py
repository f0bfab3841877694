"""The trial dashboard's read model: counts by site, CONSORT flow, enrollment, visits due."""

from __future__ import annotations

import datetime
import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from trials.enrollment.models import AllocationSlot, Consent, ExitKind, needs_reconsent
from trials.participants.models import Participant
from trials.sessions.models import EventKind, Visit, VisitStatus
from trials.study.models import Membership, ProtocolVersion, Trial, TrialSite
from trials.study.permissions import may_see_arm
from trials.study.sitetime import today_at

if TYPE_CHECKING:
    from django.contrib.auth.models import User


Status = Participant.Status
TOP_FAILURES = 5
DAYS_AHEAD = 6
# Statuses a participant reaches only through an eligible verdict.
AT_OR_PAST_ELIGIBLE = (
    Status.ELIGIBLE,
    Status.CONSENTED,
    Status.RANDOMIZED,
    Status.IN_TREATMENT,
    Status.FOLLOW_UP,
    Status.COMPLETED,
    Status.LOST_TO_FOLLOW_UP,
)
COUNTS = (
    "screened",
    "screen_failed",
    "eligible",
    "consented",
    "randomized",
    "dosed",
    "completed",
    "withdrawn",
    "lost_to_follow_up",
    "needs_reconsent",
)
# What apps built on trials may count (screening: who was screened).
PLUGGABLE_COUNTS = ("screened",)
ParticipantCondition = Callable[[], Q]
FailedCriteria = Callable[[QuerySet[Participant], int], list[tuple[str, int]]]
_plugged_counts: dict[str, ParticipantCondition] = {}
_failed_criteria: FailedCriteria | None = None


def register_count(name: str, condition: ParticipantCondition) -> None:
    """Plug-in points for the counts that read another app's records (DESIGN.md: trials never
    reads screening; screening/apps.py fills these in when the app is ready).

    `register_count`: one of PLUGGABLE_COUNTS, as a condition on Participant rows; it is
    counted per site in the same grouped query as the flow's other counts (0 if not
    registered). `register_failed_criteria`: given the screen-failed participants in scope
    and a limit, (criterion id, participants failing it), most failed first, from one query.
    """
    if name not in PLUGGABLE_COUNTS:
        raise ValueError(f"The dashboard has no pluggable count {name!r}.")
    _plugged_counts[name] = condition


def register_failed_criteria(breakdown: FailedCriteria) -> None:
    """The screen failures' breakdown by criterion (see `register_count`)."""
    global _failed_criteria
    _failed_criteria = breakdown


@dataclass(frozen=True)
class Scope:
    """The trial sites whose numbers a user sees, and the roles they hold in the trial."""

    trial: Trial
    roles: frozenset[str]
    trial_sites: list[TrialSite]
    all_sites: bool

    @property
    def site_ids(self) -> list[int]:
        return [trial_site.site_id for trial_site in self.trial_sites]

    def participants(self) -> QuerySet[Participant]:
        return Participant.objects.filter(trial=self.trial, site_id__in=self.site_ids)


@dataclass(frozen=True)
class Criterion:
    code: str
    text: str
    count: int


@dataclass(frozen=True)
class ArmCount:
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class Consort:
    """The CONSORT flow: how many reached each step. `arms` is None when arms are masked."""

    screened: int
    screen_failed: int
    failures: list[Criterion]
    eligible: int
    consented: int
    randomized: int
    arms: list[ArmCount] | None
    dosed: int
    completed: int
    withdrawn: int
    lost_to_follow_up: int


@dataclass(frozen=True)
class SiteEnrollment:
    code: str
    name: str
    cap: int | None
    cumulative: list[int]

    @property
    def randomized(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0


@dataclass(frozen=True)
class Enrollment:
    """Cumulative randomizations per site at the end of each week (weeks start on Monday)."""

    weeks: list[datetime.date]
    sites: list[SiteEnrollment]
    target: int

    @property
    def total(self) -> list[int]:
        return [sum(values) for values in zip(*(s.cumulative for s in self.sites), strict=True)]


@dataclass(frozen=True)
class SiteWeek:
    """A site's coming week: visits whose window is open, participants needing re-consent."""

    code: str
    name: str
    first: datetime.date
    last: datetime.date
    visits_due: int
    needs_reconsent: int


@dataclass(frozen=True)
class Dashboard:
    scope: Scope
    consort: Consort
    enrollment: Enrollment
    week: list[SiteWeek]

    @property
    def trial(self) -> Trial:
        return self.scope.trial

    @property
    def arms_visible(self) -> bool:
        return self.consort.arms is not None


def dashboard_for(trial: Trial, user: User) -> Dashboard:
    """Everything the trial dashboard shows, within the user's scope."""
    scope = dashboard_scope(trial, user)
    days = {ts.site_id: today_at(ts.site.time_zone) for ts in scope.trial_sites}
    counts = _counts_by_site(scope, days)
    return Dashboard(
        scope=scope,
        consort=_consort(scope, _sum(counts.values())),
        enrollment=_enrollment(scope, today=min(days.values(), default=timezone.now().date())),
        week=_week(scope, days, counts),
    )


def dashboard_scope(trial: Trial, user: User) -> Scope:
    """Trial-wide memberships (monitors, sponsors) see every site; the others their own."""
    memberships = list(
        Membership.objects.filter(user=user, trial=trial).order_by().values("site_id", "role")
    )
    all_sites = any(m["site_id"] is None for m in memberships)
    trial_sites = TrialSite.objects.filter(trial=trial).select_related("site")
    if not all_sites:
        trial_sites = trial_sites.filter(site_id__in=[m["site_id"] for m in memberships])
    return Scope(
        trial=trial,
        roles=frozenset(m["role"] for m in memberships),
        trial_sites=list(trial_sites.order_by("site__code")),
        all_sites=all_sites,
    )


def _counts_by_site(scope: Scope, days: dict[int, datetime.date]) -> dict[int, dict[str, int]]:
    """One grouped query: every participant count of the flow, per site."""
    if not days:
        return {}
    plugged = [(name, condition()) for name, condition in _plugged_counts.items()]
    rows = (
        scope.participants()
        .order_by()
        .values("site_id")
        .annotate(
            **{name: Count("pk", filter=condition) for name, condition in plugged + _flow(days)}
        )
    )
    absent = dict.fromkeys(set(PLUGGABLE_COUNTS) - set(_plugged_counts), 0)
    # The rows' counts are named by annotate(**...), which the Django plugin cannot see.
    return {row.pop("site_id"): {**absent, **row} for row in rows}  # type: ignore[misc,dict-item]


def _flow(days: dict[int, datetime.date]) -> list[tuple[str, Q]]:
    randomized = Q(allocation__isnull=False)
    dosing_done = Visit.objects.filter(
        participant=OuterRef("pk"), kind=EventKind.DOSING, status=VisitStatus.COMPLETED
    )
    consented = Exists(Consent.objects.filter(participant=OuterRef("pk")))
    return [
        ("screen_failed", Q(status=Status.SCREEN_FAILED)),
        # Consent needs the investigator's signature, which stays once consent is given.
        ("eligible", Q(eligibility_signature__isnull=False) | Q(status__in=AT_OR_PAST_ELIGIBLE)),
        ("consented", Q(consented)),
        ("randomized", randomized),
        ("dosed", randomized & Q(Exists(dosing_done))),
        ("completed", randomized & Q(study_exit__kind=ExitKind.COMPLETED)),
        ("withdrawn", randomized & Q(study_exit__kind=ExitKind.WITHDRAWN)),
        ("lost_to_follow_up", randomized & Q(study_exit__kind=ExitKind.LOST_TO_FOLLOW_UP)),
        ("needs_reconsent", _needs_reconsent_at_sites(days)),
    ]


def _needs_reconsent_at_sites(days: dict[int, datetime.date]) -> Q:
    """needs_reconsent on each site's own today: sites' time zones differ."""
    return functools.reduce(
        operator.or_,
        (Q(site_id=site_id) & Q(needs_reconsent(day)) for site_id, day in days.items()),
    )


def _sum(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    totals = dict.fromkeys(COUNTS, 0)
    for row in rows:
        for name in COUNTS:
            totals[name] += row[name]
    return totals


def _consort(scope: Scope, totals: dict[str, int]) -> Consort:
    version = ProtocolVersion.objects.current_for(scope.trial)
    content: dict[str, Any] = (
        version.content if version else {"arms": [], "screening": {"criteria": []}}
    )
    return Consort(
        screened=totals["screened"],
        screen_failed=totals["screen_failed"],
        failures=_failures(scope, content["screening"]["criteria"]),
        eligible=totals["eligible"],
        consented=totals["consented"],
        randomized=totals["randomized"],
        arms=_arms(scope, content["arms"]) if _arms_visible(scope) else None,
        dosed=totals["dosed"],
        completed=totals["completed"],
        withdrawn=totals["withdrawn"],
        lost_to_follow_up=totals["lost_to_follow_up"],
    )


def _arms_visible(scope: Scope) -> bool:
    # The participant page's rule, for counts: no unblinding ever opens an aggregate.
    return may_see_arm(scope.roles, Participant(trial=scope.trial), unblinded=False)


def _failures(scope: Scope, criteria: list[dict[str, Any]]) -> list[Criterion]:
    """The criteria most often failed by screen-failed participants (their open screening)."""
    texts = {criterion["id"]: criterion["text"] for criterion in criteria}
    if _failed_criteria is None:
        return []
    failed = scope.participants().filter(status=Status.SCREEN_FAILED)
    return [
        Criterion(code, texts.get(code, ""), count)
        for code, count in _failed_criteria(failed, TOP_FAILURES)
    ]


def _arms(scope: Scope, arms: list[dict[str, Any]]) -> list[ArmCount]:
    counts = dict(
        AllocationSlot.objects.filter(participant__in=scope.participants())
        .order_by()
        .values("arm__code")
        .annotate(count=Count("pk"))
        .values_list("arm__code", "count")
    )
    return [ArmCount(arm["code"], arm["label"], counts.get(arm["code"], 0)) for arm in arms]


def _enrollment(scope: Scope, today: datetime.date) -> Enrollment:
    """Cumulative randomizations per site by week (UTC), from one aggregated query."""
    rows = (
        AllocationSlot.objects.filter(participant__in=scope.participants())
        .annotate(week=TruncWeek("allocated_at", tzinfo=datetime.UTC))
        .order_by()
        .values("participant__site_id", "week")
        .annotate(count=Count("pk"))
    )
    added = {(row["participant__site_id"], row["week"].date()): row["count"] for row in rows}
    weeks = _weeks(scope, {week for _, week in added}, today)
    return Enrollment(
        weeks=weeks,
        sites=[
            SiteEnrollment(
                code=ts.site.code,
                name=ts.site.name,
                cap=ts.enrollment_cap,
                cumulative=_running_sum([added.get((ts.site_id, week), 0) for week in weeks]),
            )
            for ts in scope.trial_sites
        ],
        target=scope.trial.target_enrollment,
    )


def _weeks(
    scope: Scope, with_data: set[datetime.date], today: datetime.date
) -> list[datetime.date]:
    """Every Monday from the first activation or randomization to this week."""
    activations = {_monday(ts.activated_on) for ts in scope.trial_sites if ts.activated_on}
    this_week = _monday(today)
    first = min(with_data | activations | {this_week})
    return [first + datetime.timedelta(weeks=n) for n in range((this_week - first).days // 7 + 1)]


def _monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def _running_sum(values: list[int]) -> list[int]:
    total, sums = 0, []
    for value in values:
        total += value
        sums.append(total)
    return sums


def _week(
    scope: Scope, days: dict[int, datetime.date], counts: dict[int, dict[str, int]]
) -> list[SiteWeek]:
    due = _visits_due(scope, days)
    return [
        SiteWeek(
            code=ts.site.code,
            name=ts.site.name,
            first=days[ts.site_id],
            last=days[ts.site_id] + datetime.timedelta(days=DAYS_AHEAD),
            visits_due=due.get(ts.site_id, 0),
            needs_reconsent=counts.get(ts.site_id, {}).get("needs_reconsent", 0),
        )
        for ts in scope.trial_sites
    ]


def _visits_due(scope: Scope, days: dict[int, datetime.date]) -> dict[int, int]:
    """Visits due from today to today + 6 at each site, counted per site in one query."""
    if not days:
        return {}
    due = functools.reduce(
        operator.or_,
        (
            Visit.objects.due_between(day, day + datetime.timedelta(days=DAYS_AHEAD)).filter(
                participant__site_id=site_id
            )
            for site_id, day in days.items()
        ),
    )
    rows = (
        due.filter(participant__trial=scope.trial)
        .order_by()
        .values("participant__site_id")
        .annotate(count=Count("pk"))
    )
    return {row["participant__site_id"]: row["count"] for row in rows}
