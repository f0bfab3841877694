"""Demo volume for seed_demo --participants: thousands of participants in realistic states.

The seed_demo command's helper: registry is wiring, and may import every app. Allocation and
visits come from the services, for thousands at once: slots from each stratum's list
(`allocations_give`), schedules (`schedules_from_randomization`), visits dated from each dose
(`visits_schedule_after_doses`), remaining visits cancelled on exit
(`visits_cancel_remaining_for`). What no service writes in bulk or in the past is inserted as
rows: registration, screening with the rule engine's verdict, signatures, consents, what
happened at each visit, statuses and exits. Per participant, the services would take
minutes: signing alone hashes a password.
"""

from __future__ import annotations

import datetime
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from screening import rules
from screening.eligibility import evaluator_for
from screening.models import Screening
from trials.audit import audit_context
from trials.enrollment.models import (
    AllocationSlot,
    Consent,
    ConsentFormVersion,
    ExitKind,
    ExitReason,
    StudyExit,
)
from trials.enrollment.services import EXIT_STATUS, allocations_give
from trials.participants import services
from trials.participants.models import Participant, ParticipantContact, Signature
from trials.sessions.models import EventKind, Visit
from trials.sessions.services import (
    schedules_from_randomization,
    visits_cancel_remaining_for,
    visits_schedule_after_doses,
)
from trials.study.models import Membership, ProtocolVersion, Role, Trial, TrialSite

VOLUME_TRIAL = "COMP360-TRD-P3"
# Every block of twenty participants: where each stands in the flow.
PLAN = (
    ["screen_failed"] * 8
    + ["screening"] * 2
    + ["eligible"] * 2
    + ["consented"] * 2
    + ["randomized"] * 5
    + ["exit"]
)
SIGNED = ("eligible", "consented", "randomized", "exit")
CONSENTED = ("consented", "randomized", "exit")
RANDOMIZED = ("randomized", "exit")
# COMP360 screening answers that fail one criterion, and how often each is the reason.
FAILING = {
    "I1": ({"age_years": 17}, 1),
    "I2": ({"mdd_current_episode": False}, 2),
    "I3": ({"mdd_with_psychotic_features": True}, 2),
    "I4": ({"first_lifetime_episode": True, "current_episode_duration_months": 30}, 3),
    "I5": ({"madrs_total_screening": 16}, 8),
    "I6": ({"madrs_total_baseline": 15}, 6),
    "I7": ({"failed_adequate_treatments_current_episode": 1}, 12),
    "E1": ({"lifetime_excluded_personality_disorder": True}, 3),
    "E2": ({"ongoing_serious_psychiatric_comorbidity": True}, 5),
}
EXITS = [
    (ExitKind.WITHDRAWN, ExitReason.WITHDREW_CONSENT, 4),
    (ExitKind.WITHDRAWN, ExitReason.ADVERSE_EVENT, 1),
    (ExitKind.WITHDRAWN, ExitReason.LACK_OF_EFFICACY, 1),
    (ExitKind.COMPLETED, ExitReason.COMPLETED_PER_PROTOCOL, 3),
    (ExitKind.LOST_TO_FOLLOW_UP, ExitReason.UNREACHABLE, 1),
]
# The status each stage is written with; randomized ones move on once their visits are lived
# (status_changed_at: the randomization).
WRITTEN_STATUS = {
    "screen_failed": Participant.Status.SCREEN_FAILED,
    "screening": Participant.Status.SCREENING,
    "eligible": Participant.Status.ELIGIBLE,
    "consented": Participant.Status.CONSENTED,
    "randomized": Participant.Status.CONSENTED,
    "exit": Participant.Status.CONSENTED,
}
# Done by then, the participant is in follow-up.
FOLLOW_UP_FROM = "W6"
MISSED_SHARE = 0.03
WRITTEN = [
    Participant,
    ParticipantContact,
    Signature,
    Screening,
    Consent,
    AllocationSlot,
    Visit,
    StudyExit,
]
GIVEN_NAMES = ["Ada", "Bea", "Cal", "Dev", "Eli", "Fay", "Gus", "Hal", "Ida", "Jun", "Kai", "Lin"]
FAMILY_NAMES = ["Abbott", "Baker", "Chen", "Diaz", "Evans", "Fofana", "Garcia", "Haddad", "Ito"]
BATCH = 2000


class Planned:
    """One demo participant before it is written: its stage, the moments of its path and,
    once randomized, the last day it lives in the study (today, or the day it leaves)."""

    def __init__(
        self,
        participant: Participant,
        stage: str,
        started: datetime.datetime,
        staff: Staff,
        trial_site: TrialSite,
    ) -> None:
        self.participant = participant
        self.stage = stage
        self.staff = staff
        self.trial_site = trial_site
        self.zone = ZoneInfo(trial_site.site.time_zone)
        self.started = started
        self.signed = started + datetime.timedelta(days=1)
        self.consented = started + datetime.timedelta(days=2, hours=2)
        self.randomized = started + datetime.timedelta(days=3, hours=4)
        self.until = self.randomized.date()


class Volume:
    """Demo participants in bulk, spread over the trial's sites and every stage of the flow.

    In the name of the sites' own coordinators and investigators; the audit triggers record
    every row. Caps and targets are not checked (`participant_randomize` checks them, one
    participant at a time): this is volume.
    """

    def __init__(self, trial: Trial) -> None:
        self.trial = trial
        self.version = ProtocolVersion.objects.current_for(trial)
        self.form = ConsentFormVersion.objects.get(trial=trial, label="ICF v1")
        self.evaluate = evaluator_for(self.version)
        self.now = timezone.now()
        self.random = random.Random(f"seed_demo {trial.code}")

    def top_up(self, wanted: int) -> int:
        """Create participants until the trial has `wanted`; returns how many were created."""
        missing = wanted - Participant.objects.filter(trial=self.trial).count()
        if missing <= 0:
            return 0
        # Locked: study ID numbers come from the sites' counters, as in participant_create.
        trial_sites = list(
            TrialSite.objects.select_for_update(of=("self",))
            .filter(trial=self.trial, is_active=True)
            .select_related("trial", "site")
            .order_by("site__code")
        )
        shares = [
            missing // len(trial_sites) + (index < missing % len(trial_sites))
            for index in range(len(trial_sites))
        ]
        _audit_without_savepoints()
        with audit_context(by=None, reason="Demo data", actor="seed_demo"):
            planned = [
                plan
                for trial_site, share in zip(trial_sites, shares, strict=True)
                for plan in self._plan(trial_site, share)
            ]
            self._write(planned)
        _analyze(WRITTEN)
        return len(planned)

    def _plan(self, trial_site: TrialSite, count: int) -> list[Planned]:
        first = trial_site.next_participant_number
        trial_site.next_participant_number = first + count
        trial_site.save(update_fields=["next_participant_number"])
        staff = _staff(trial_site)
        blocks = range(0, count, len(PLAN))
        stages = [stage for _ in blocks for stage in self.random.sample(PLAN, len(PLAN))]
        opened = datetime.datetime.combine(
            trial_site.activated_on or self.now.date(), datetime.time(9), datetime.UTC
        )
        # Everyone started at least four days ago: randomized ones three days after starting.
        span = max((self.now - opened).total_seconds() - 4 * 86400, 0)
        planned = []
        for number, stage in zip(range(first, first + count), stages, strict=False):
            started = opened + datetime.timedelta(seconds=self.random.uniform(0, span))
            participant = Participant(
                trial=trial_site.trial,
                site=trial_site.site,
                number=number,
                study_id=services.study_id_for(trial_site, number),
                created_by=staff.coordinator,
            )
            plan = Planned(participant, stage, started, staff, trial_site)
            self._path(plan)
            planned.append(plan)
        return planned

    def _path(self, plan: Planned) -> None:
        """The status it is written with, when it changed; until when a randomized one lives."""
        participant, stage = plan.participant, plan.stage
        participant.status = WRITTEN_STATUS[stage]
        participant.status_changed_at = {
            "eligible": plan.signed,
            "consented": plan.consented,
            "randomized": plan.randomized,
            "exit": plan.randomized,
        }.get(stage, plan.started)
        if stage not in RANDOMIZED:
            return
        randomized_on = plan.randomized.astimezone(plan.zone).date()
        plan.until = self.now.astimezone(plan.zone).date()
        if stage == "exit":
            plan.until = randomized_on + datetime.timedelta(
                days=self.random.randint(0, (plan.until - randomized_on).days)
            )

    def _write(self, planned: list[Planned]) -> None:
        Participant.objects.bulk_create([plan.participant for plan in planned], batch_size=BATCH)
        ParticipantContact.objects.bulk_create(
            (self._contact(plan.participant) for plan in planned), batch_size=BATCH
        )
        signatures = self._signatures([plan for plan in planned if plan.stage in SIGNED])
        self._screenings(planned, signatures)
        Consent.objects.bulk_create(
            (self._consent(plan) for plan in planned if plan.stage in CONSENTED), batch_size=BATCH
        )
        randomized = [plan for plan in planned if plan.stage in RANDOMIZED]
        self._randomize(randomized)
        done = self._live(randomized)
        for plan in randomized:
            plan.participant.status = _status_from(done[plan.participant.pk])
        self._exits([plan for plan in randomized if plan.stage == "exit"])
        by_status: dict[str, list[int]] = defaultdict(list)
        for plan in randomized:
            by_status[plan.participant.status].append(plan.participant.pk)
        for status, pks in by_status.items():
            Participant.objects.filter(pk__in=pks).update(status=status)

    def _randomize(self, randomized: list[Planned]) -> None:
        """Slots given in order of randomization at each site, then the schedules."""
        randomized = sorted(randomized, key=lambda plan: plan.randomized)
        by_site: dict[int, list[Planned]] = defaultdict(list)
        for plan in randomized:
            by_site[plan.trial_site.pk].append(plan)
        for plans in by_site.values():
            allocations_give(
                trial=self.trial,
                trial_site=plans[0].trial_site,
                version=self.version,
                given=[(plan.participant, plan.randomized) for plan in plans],
                by=plans[0].staff.coordinator,
            )
        schedules_from_randomization(
            version=self.version,
            randomized=[
                (plan.participant, plan.randomized.astimezone(plan.zone).date())
                for plan in randomized
            ],
        )

    def _live(self, randomized: list[Planned]) -> dict[int, list[Visit]]:
        """The visits due before each participant's `until`, in order: done, a few missed
        (never a dose). Each dose dates the visits anchored on it, as the task after a dose
        does. Returns the visits done, by participant."""
        until = {plan.participant.pk: plan.until for plan in randomized}
        done: dict[int, list[Visit]] = {pk: [] for pk in until}
        missed: list[int] = []
        seen: set[int] = set()
        participants = list(until)
        while participants:
            doses = []
            for visit in self._scheduled(participants):
                if visit.pk in seen:
                    continue
                seen.add(visit.pk)
                if visit.target_date >= until[visit.participant_id]:
                    continue
                if visit.kind != EventKind.DOSING and self.random.random() < MISSED_SHARE:
                    missed.append(visit.pk)
                    continue
                done[visit.participant_id].append(visit)
                if visit.kind == EventKind.DOSING:
                    doses.append((visit, visit.target_date))
            visits_schedule_after_doses(doses=doses)
            participants = [visit.participant_id for visit, _ in doses]
        # What happened at each visit: the session services need a booking, a team and
        # signatures, which the demo does not make.
        lived = [visit.pk for visits in done.values() for visit in visits]
        Visit.objects.filter(pk__in=lived).update(status=Visit.Status.COMPLETED)
        Visit.objects.filter(pk__in=missed).update(status=Visit.Status.MISSED)
        return done

    def _scheduled(self, participants: list[int]) -> list[Visit]:
        """The participants' dated visits, in order, with the fields `_live` reads."""
        visits = list(
            Visit.objects.filter(participant__in=participants, status=Visit.Status.SCHEDULED)
            .only("participant", "protocol_version", "event_code", "kind", "target_date")
            .order_by("participant", "sequence")
        )
        for visit in visits:
            visit.protocol_version = self.version  # one copy of the content, not one per row
        return visits

    def _exits(self, leaving: list[Planned]) -> None:
        """Each leaves as its lifecycle allows; the visits not done are cancelled."""
        exits = []
        for plan in leaving:
            kind, reason = self._exit(plan.participant.status)
            plan.participant.status = EXIT_STATUS[kind]
            exits.append(
                StudyExit(
                    participant=plan.participant,
                    kind=kind,
                    reason=reason,
                    exited_on=plan.until,
                    recorded_by=plan.staff.coordinator,
                )
            )
        StudyExit.objects.bulk_create(exits, batch_size=BATCH)
        visits_cancel_remaining_for(participants=[plan.participant for plan in leaving])

    def _exit(self, status: str) -> tuple[str, str]:
        allowed = services.allowed_transitions(status)
        exits = [exit_ for exit_ in EXITS if EXIT_STATUS[exit_[0]] in allowed]
        kind, reason, _ = self.random.choices(exits, weights=[w for *_, w in exits])[0]
        return kind, reason

    def _contact(self, participant: Participant) -> ParticipantContact:
        born = datetime.date(1950, 1, 1) + datetime.timedelta(days=self.random.randrange(18000))
        return ParticipantContact(
            participant=participant,
            given_name=self.random.choice(GIVEN_NAMES),
            family_name=self.random.choice(FAMILY_NAMES),
            date_of_birth=born,
            may_contact=self.random.random() < 0.8,
        )

    def _signatures(self, planned: list[Planned]) -> dict[int, Signature]:
        signatures = Signature.objects.bulk_create(
            (
                Signature(
                    participant=plan.participant,
                    signer=plan.staff.investigator,
                    printed_name=plan.staff.investigator.get_full_name(),
                    meaning=Signature.Meaning.ELIGIBILITY_CONFIRMED,
                    signed_at=plan.signed,
                )
                for plan in planned
            ),
            batch_size=BATCH,
        )
        return {signature.participant_id: signature for signature in signatures}

    def _screenings(self, planned: list[Planned], signatures: dict[int, Signature]) -> None:
        fields = self.version.content["screening"]["fields"]
        screenings = []
        for plan in planned:
            data = self._screening_data(plan.stage)
            clean, _errors = rules.clean_values(fields, data)
            verdict = self.evaluate(clean)
            if plan.participant.pk in signatures:
                plan.participant.eligibility_data = data  # strata are read from it
            screenings.append(
                Screening(
                    participant=plan.participant,
                    protocol_version=self.version,
                    data=data,
                    result=verdict.result,
                    failed=list(verdict.failed),
                    missing=list(verdict.missing),
                    missing_fields=list(verdict.missing_fields),
                    confirmation=signatures.get(plan.participant.pk),
                    started_by=plan.staff.coordinator,
                )
            )
        Screening.objects.bulk_create(screenings, batch_size=BATCH)
        # The signed verdict recorded on the participant, as the screening service records it.
        signed = Screening.objects.filter(participant=OuterRef("pk"), confirmation__isnull=False)
        Participant.objects.filter(pk__in=list(signatures)).update(
            eligibility_signature=Subquery(signed.values("confirmation")[:1]),
            eligibility_data=Subquery(signed.values("data")[:1]),
        )

    def _screening_data(self, stage: str) -> dict[str, object]:
        """Answers passing every criterion; a screen failure fails one or two; an unfinished
        screening lacks four."""
        data: dict[str, object] = {
            "age_years": self.random.randint(18, 75),
            "mdd_current_episode": True,
            "mdd_with_psychotic_features": False,
            "first_lifetime_episode": False,
            "current_episode_duration_months": self.random.randint(6, 120),
            "madrs_total_screening": self.random.randint(20, 45),
            "madrs_total_baseline": self.random.randint(20, 45),
            "failed_adequate_treatments_current_episode": self.random.randint(2, 4),
            "lifetime_excluded_personality_disorder": False,
            "ongoing_serious_psychiatric_comorbidity": False,
        }
        if stage == "screen_failed":
            weights = [weight for _, weight in FAILING.values()]
            reasons = self.random.choices(list(FAILING), weights=weights, k=2)
            for criterion in reasons[: self.random.choice((1, 1, 1, 2))]:
                data.update(FAILING[criterion][0])
        if stage == "screening":
            for name in self.random.sample(sorted(data), 4):
                del data[name]
        return data

    def _consent(self, plan: Planned) -> Consent:
        return Consent(
            participant=plan.participant,
            form_version=self.form,
            consented_at=plan.consented,
            obtained_by=plan.staff.coordinator,
            participant_confirmed=True,
            recorded_by=plan.staff.coordinator,
        )


def _analyze(models: list[type[Any]]) -> None:
    """Fresh planner statistics: the first pages read would otherwise be planned for the
    tables as they were before thousands of rows arrived."""
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def _audit_without_savepoints() -> None:
    """Keep every audit trigger, without a savepoint per row.

    pgtrigger's triggers look up the triggers to ignore in a setting and catch the error when
    it is unset: a subtransaction for each row written. Set (to none) for this transaction,
    the lookup succeeds, every trigger still fires, and bulk inserts run several times faster.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")


@dataclass(frozen=True)
class Staff:
    """The site's coordinator and investigator, in whose name demo records are made."""

    coordinator: Any
    investigator: Any


def _staff(trial_site: TrialSite) -> Staff:
    members = Membership.objects.filter(
        trial_id=trial_site.trial_id,
        site_id=trial_site.site_id,
        role__in=[Role.COORDINATOR, Role.INVESTIGATOR],
    ).select_related("user")
    found: dict[str, Any] = {}
    for membership in members.order_by("pk"):
        found.setdefault(membership.role, membership.user)
    return Staff(coordinator=found[Role.COORDINATOR], investigator=found[Role.INVESTIGATOR])


def _status_from(done: list[Visit]) -> str:
    codes = {visit.event_code for visit in done}
    if FOLLOW_UP_FROM in codes:
        return Participant.Status.FOLLOW_UP
    if any(visit.kind == EventKind.DOSING for visit in done):
        return Participant.Status.IN_TREATMENT
    return Participant.Status.RANDOMIZED
