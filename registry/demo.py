"""Demo volume for seed_demo --participants: thousands of participants in realistic states.

The seed_demo command's helper: registry is wiring, and may import every app.
"""

from __future__ import annotations

import datetime
import random
import secrets
from collections.abc import Iterator
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
    AllocationList,
    AllocationSlot,
    Consent,
    ConsentFormVersion,
    ExitKind,
    ExitReason,
    StudyExit,
)
from trials.enrollment.randomization import permuted_blocks, stratum_key
from trials.participants import services
from trials.participants.models import Participant, ParticipantContact, Signature
from trials.sessions.models import EventKind, Visit
from trials.study.models import Arm, Membership, ProtocolVersion, Role, Trial, TrialSite

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
PRE_RANDOMIZATION_STATUS = {
    "screen_failed": Participant.Status.SCREEN_FAILED,
    "screening": Participant.Status.SCREENING,
    "eligible": Participant.Status.ELIGIBLE,
    "consented": Participant.Status.CONSENTED,
}
EXIT_STATUS = {
    ExitKind.WITHDRAWN: Participant.Status.WITHDRAWN,
    ExitKind.COMPLETED: Participant.Status.COMPLETED,
    ExitKind.LOST_TO_FOLLOW_UP: Participant.Status.LOST_TO_FOLLOW_UP,
}
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
    """One demo participant before it is written: its stage, the moments of its path, its
    visits and exit once randomized."""

    def __init__(
        self, participant: Participant, stage: str, started: datetime.datetime, staff: Staff
    ) -> None:
        self.participant = participant
        self.stage = stage
        self.staff = staff
        self.started = started
        self.signed = started + datetime.timedelta(days=1)
        self.consented = started + datetime.timedelta(days=2, hours=2)
        self.randomized = started + datetime.timedelta(days=3, hours=4)
        self.visits: list[Visit] = []
        self.study_exit: StudyExit | None = None


class Volume:
    """Demo participants in bulk, spread over the trial's sites and every stage of the flow.

    Written with bulk_create (the audit triggers still record every row), in the name of the
    sites' own coordinators and investigators, from recorded-seed allocation lists as the
    randomization service makes them. Caps and targets are not checked: this is volume.
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
            self._write(planned, trial_sites)
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
            plan = Planned(participant, stage, started, staff)
            self._path(plan, ZoneInfo(trial_site.site.time_zone))
            planned.append(plan)
        return planned

    def _path(self, plan: Planned, zone: ZoneInfo) -> None:
        """Where the participant stands now: status, when it changed, visits and exit."""
        participant, stage = plan.participant, plan.stage
        if stage not in RANDOMIZED:
            participant.status = PRE_RANDOMIZATION_STATUS[stage]
            participant.status_changed_at = {
                "eligible": plan.signed,
                "consented": plan.consented,
            }.get(stage, plan.started)
            return
        randomized_on = plan.randomized.astimezone(zone).date()
        today = self.now.astimezone(zone).date()
        until = today
        if stage == "exit":
            until = randomized_on + datetime.timedelta(
                days=self.random.randint(0, (today - randomized_on).days)
            )
            plan.study_exit = self._exit(plan, until)
        plan.visits = list(self._visits(participant, randomized_on, until, stage == "exit"))
        participant.status = (
            EXIT_STATUS[ExitKind(plan.study_exit.kind)]
            if plan.study_exit
            else _status_from(plan.visits)
        )
        participant.status_changed_at = plan.randomized

    def _write(self, planned: list[Planned], trial_sites: list[TrialSite]) -> None:
        Participant.objects.bulk_create([plan.participant for plan in planned], batch_size=BATCH)
        ParticipantContact.objects.bulk_create(
            (self._contact(plan.participant) for plan in planned), batch_size=BATCH
        )
        signatures = self._signatures([plan for plan in planned if plan.stage in SIGNED])
        self._screenings(planned, signatures)
        Consent.objects.bulk_create(
            (self._consent(plan) for plan in planned if plan.stage in CONSENTED), batch_size=BATCH
        )
        randomized = sorted(
            (plan for plan in planned if plan.stage in RANDOMIZED), key=lambda plan: plan.randomized
        )
        for trial_site in trial_sites:
            self._allocate(
                trial_site, [p for p in randomized if p.participant.site_id == trial_site.site_id]
            )
        Visit.objects.bulk_create(
            (visit for plan in randomized for visit in plan.visits), batch_size=BATCH
        )
        StudyExit.objects.bulk_create(
            (plan.study_exit for plan in randomized if plan.study_exit), batch_size=BATCH
        )

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

    def _allocate(self, trial_site: TrialSite, planned: list[Planned]) -> None:
        """Give each participant, in order of randomization, the next free place of the site's
        list; the list is extended from its recorded seed as the service extends it."""
        allocation_list = self._allocation_list(trial_site)
        free = list(allocation_list.slots.filter(participant__isnull=True).order_by("sequence"))
        existing = allocation_list.slots.count()
        arms = {arm.code: arm for arm in Arm.objects.filter(trial=self.trial)}
        wanted = existing + max(len(planned) - len(free), 0)
        generated = permuted_blocks(
            allocation_list.seed, allocation_list.ratio, allocation_list.block_sizes, wanted
        )
        new = [
            AllocationSlot(
                allocation_list=allocation_list,
                sequence=slot.sequence,
                block=slot.block,
                arm=arms[slot.arm],
                kit_code=slot.kit_code,
            )
            for slot in generated[existing:]
        ]
        for plan, slot in zip(planned, free + new, strict=False):
            slot.participant, slot.allocated_at = plan.participant, plan.randomized
            slot.allocated_by = plan.staff.coordinator
        given_free = free[: len(planned)]
        if given_free:
            fields = ["participant", "allocated_at", "allocated_by"]
            AllocationSlot.objects.bulk_update(given_free, fields, batch_size=BATCH)
        AllocationSlot.objects.bulk_create(new, batch_size=BATCH)

    def _allocation_list(self, trial_site: TrialSite) -> AllocationList:
        scheme = self.version.content["randomization"]
        allocation_list, _ = AllocationList.objects.get_or_create(
            trial=self.trial,
            stratum=stratum_key({"site": trial_site.site.code}),
            defaults={
                "seed": secrets.token_hex(16),
                "ratio": scheme["ratio"],
                "block_sizes": scheme["block_sizes"],
            },
        )
        return allocation_list

    def _visits(
        self,
        participant: Participant,
        randomized_on: datetime.date,
        until: datetime.date,
        left: bool,
    ) -> Iterator[Visit]:
        """The protocol's events: those anchored on a done dose are dated, those before `until`
        done (a few missed), the rest to do, or cancelled if the participant left."""
        anchors = {"randomization": randomized_on}
        for sequence, event in enumerate(self.version.content["schedule"], start=1):
            visit = Visit(
                participant=participant,
                protocol_version=self.version,
                event_code=event["code"],
                kind=event["kind"],
                label=event["label"],
                anchor=event["anchor"],
                day=event["day"],
                sequence=sequence,
                status=Visit.Status.CANCELLED if left else Visit.Status.AWAITING_DOSING,
            )
            anchor = anchors.get(event["anchor"])
            if anchor is not None:
                self._date(visit, event, anchor, until, left)
                if visit.kind == EventKind.DOSING and visit.status == Visit.Status.COMPLETED:
                    anchors[event["code"]] = visit.target_date
            yield visit

    def _date(
        self,
        visit: Visit,
        event: dict[str, Any],
        anchor: datetime.date,
        until: datetime.date,
        left: bool,
    ) -> None:
        early, late = event["window"]
        visit.target_date = anchor + datetime.timedelta(days=event["day"])
        visit.window_start = visit.target_date + datetime.timedelta(days=early)
        visit.window_end = visit.target_date + datetime.timedelta(days=late)
        if visit.target_date >= until:
            visit.status = Visit.Status.CANCELLED if left else Visit.Status.SCHEDULED
        elif visit.kind != EventKind.DOSING and self.random.random() < 0.03:
            visit.status = Visit.Status.MISSED
        else:
            visit.status = Visit.Status.COMPLETED

    def _exit(self, plan: Planned, exited_on: datetime.date) -> StudyExit:
        weights = [weight for *_, weight in EXITS]
        kind, reason, _ = self.random.choices(EXITS, weights=weights)[0]
        return StudyExit(
            participant=plan.participant,
            kind=kind,
            reason=reason,
            exited_on=exited_on,
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


def _status_from(visits: list[Visit]) -> str:
    done = {visit.event_code for visit in visits if visit.status == Visit.Status.COMPLETED}
    if "W6" in done:
        return Participant.Status.FOLLOW_UP
    if any(visit.kind == EventKind.DOSING and visit.event_code in done for visit in visits):
        return Participant.Status.IN_TREATMENT
    return Participant.Status.RANDOMIZED
