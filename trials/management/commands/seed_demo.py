"""Demo data: the example protocols, three sites, a login for every role. Safe to run again.

With --participants N, COMP360-TRD-P3 is topped up to N participants in every state of the
flow, written in bulk: a realistic volume for the dashboards and the benchmarks.
"""

from __future__ import annotations

import datetime
import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from screening import rules
from screening.eligibility import evaluator_for
from screening.models import Screening
from trials import services
from trials.audit import audit_context
from trials.models import (
    AllocationList,
    AllocationSlot,
    Arm,
    Consent,
    ConsentFormVersion,
    Credential,
    EventKind,
    ExitKind,
    ExitReason,
    Facilitator,
    Membership,
    Participant,
    ParticipantContact,
    ProtocolVersion,
    Role,
    Signature,
    Site,
    StudyExit,
    Trial,
    TrialSite,
    Visit,
)
from trials.randomization import permuted_blocks, stratum_key

PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"
DEMO_PASSWORD = "dyad-demo-2026"
SITES = [
    ("LON", "London Psychedelic Research Unit", "Europe/London"),
    ("NYC", "New York Center for Psychedelic Medicine", "America/New_York"),
    ("SFO", "Bay Area Trauma Research Clinic", "America/Los_Angeles"),
]
TRIAL_SITES = [
    ("COMP360-TRD-P3", "LON", 40),
    ("COMP360-TRD-P3", "NYC", 40),
    ("MAPP1", "NYC", 25),
    ("MAPP1", "SFO", 25),
]
# username, first name, last name, [(trial, site or None, role)]
PEOPLE = [
    ("coordinator.lon", "Priya", "Shah", [("COMP360-TRD-P3", "LON", Role.COORDINATOR)]),
    (
        "coordinator.nyc",
        "Marcus",
        "Bell",
        [("COMP360-TRD-P3", "NYC", Role.COORDINATOR), ("MAPP1", "NYC", Role.COORDINATOR)],
    ),
    ("facilitator.lon1", "Hannah", "Okafor", [("COMP360-TRD-P3", "LON", Role.FACILITATOR)]),
    ("facilitator.lon2", "Tomás", "Rivera", [("COMP360-TRD-P3", "LON", Role.FACILITATOR)]),
    ("investigator.lon", "Dr Eleanor", "Hart", [("COMP360-TRD-P3", "LON", Role.INVESTIGATOR)]),
    (
        "investigator.nyc",
        "Dr Samuel",
        "Cho",
        [("COMP360-TRD-P3", "NYC", Role.INVESTIGATOR), ("MAPP1", "NYC", Role.INVESTIGATOR)],
    ),
    ("monitor", "Ingrid", "Larsen", [("COMP360-TRD-P3", None, Role.MONITOR)]),
    ("sponsor.compass", "Compass", "Data Team", [("COMP360-TRD-P3", None, Role.SPONSOR)]),
    ("sponsor.maps", "MAPS", "Data Team", [("MAPP1", None, Role.SPONSOR)]),
]
FACILITATORS = ["facilitator.lon1", "facilitator.lon2"]
CANDIDATES = [
    ("Jordan", "Ellis", datetime.date(1979, 5, 2)),
    ("Morgan", "Achebe", datetime.date(1990, 11, 23)),
    ("Riley", "Novak", datetime.date(1968, 2, 9)),
]


class Command(BaseCommand):
    help = "Load the demo trials, sites and logins (idempotent) and print the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="Do not print the logins.")
        parser.add_argument(
            "--participants",
            type=int,
            metavar="N",
            help=f"Top {VOLUME_TRIAL} up to N participants in every state, in bulk.",
        )

    @transaction.atomic
    def handle(
        self, *args: object, quiet: bool = False, participants: int | None = None, **options: object
    ) -> None:
        for path in sorted(PROTOCOLS.glob("*.yaml")):
            services.protocol_load(
                content=path.read_bytes(), filename=path.name, by=None, actor="seed_demo"
            )
        for code, name, time_zone in SITES:
            Site.objects.get_or_create(code=code, defaults={"name": name, "time_zone": time_zone})
        for trial_code, site_code, cap in TRIAL_SITES:
            TrialSite.objects.get_or_create(
                trial=Trial.objects.get(code=trial_code),
                site=Site.objects.get(code=site_code),
                defaults={
                    "is_active": True,
                    "activated_on": datetime.date(2026, 1, 5),
                    "enrollment_cap": cap,
                },
            )
        for trial in Trial.objects.all():
            ConsentFormVersion.objects.get_or_create(
                trial=trial,
                label="ICF v1",
                defaults={
                    "approved_on": datetime.date(2025, 12, 1),
                    "effective_from": datetime.date(2026, 1, 5),
                },
            )
        users = {
            username: self._person(username, first, last, roles)
            for username, first, last, roles in PEOPLE
        }
        self._admin()
        for username in FACILITATORS:
            self._facilitator(users[username])
        self._candidates(users["coordinator.lon"])
        if participants is not None:
            created = Volume(Trial.objects.get(code=VOLUME_TRIAL)).top_up(participants)
            self.stdout.write(f"Created {created:,} demo participants in {VOLUME_TRIAL}.")
        if not quiet:
            self._print_logins()

    def _person(self, username: str, first: str, last: str, roles: list) -> object:  # type: ignore[type-arg]
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@demo.dyad.example",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        for trial_code, site_code, role in roles:
            Membership.objects.get_or_create(
                user=user,
                trial=Trial.objects.get(code=trial_code),
                site=Site.objects.get(code=site_code) if site_code else None,
                role=role,
            )
        return user

    def _admin(self) -> None:
        if not get_user_model().objects.filter(username="admin").exists():
            get_user_model().objects.create_superuser(
                "admin",
                "admin@demo.dyad.example",
                DEMO_PASSWORD,
                first_name="Data",
                last_name="Manager",
            )

    def _facilitator(self, user) -> None:  # type: ignore[no-untyped-def]
        facilitator, created = Facilitator.objects.get_or_create(user=user)
        if not created:
            return
        Credential.objects.create(
            facilitator=facilitator,
            kind=Credential.Kind.LICENCE,
            licence_type="Clinical psychologist (HCPC)",
            licence_number=f"PYL{user.pk:05d}",
            jurisdiction="England",
            expires_on=datetime.date(2028, 3, 31),
        )
        Credential.objects.create(
            facilitator=facilitator,
            kind=Credential.Kind.TRAINING,
            programme="Psilocybin therapy facilitator training",
            hours=120,
            completed_on=datetime.date(2025, 9, 30),
        )

    def _candidates(self, coordinator) -> None:  # type: ignore[no-untyped-def]
        trial_site = TrialSite.objects.get(trial__code="COMP360-TRD-P3", site__code="LON")
        if Participant.objects.at_site(trial_site).exists():
            return
        for given_name, family_name, born in CANDIDATES:
            services.participant_create(
                trial_site=trial_site,
                by=coordinator,
                contact={
                    "given_name": given_name,
                    "family_name": family_name,
                    "date_of_birth": born,
                    "may_contact": True,
                },
            )

    def _print_logins(self) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD})"))
        self.stdout.write("  admin                 data manager (Django admin at /admin/)")
        for username, _first, _last, roles in PEOPLE:
            where = ", ".join(
                f"{role.label} {trial} {site or 'all sites'}" for trial, site, role in roles
            )
            self.stdout.write(f"  {username:<21} {where}")
        self.stdout.write("")


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
