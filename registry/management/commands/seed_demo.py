"""Demo data: the example protocols, three sites, a login for every role. Safe to run again.

With --participants N, COMP360-TRD-P3 is topped up to N participants in every state of the
flow, written in bulk: a realistic volume for the dashboards and the benchmarks.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from registry.demo import VOLUME_TRIAL, Volume
from trials.enrollment.models import ConsentFormVersion
from trials.facilitators.models import Credential, Facilitator
from trials.participants.models import Participant
from trials.participants.services import participant_create
from trials.study.models import Membership, Role, Site, Trial, TrialSite
from trials.study.services import protocol_load

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PROTOCOLS = Path(__file__).resolve().parents[3] / "trials" / "protocols"
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
PEOPLE: list[tuple[str, str, str, list[tuple[str, str | None, Role]]]] = [
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
            protocol_load(content=path.read_bytes(), filename=path.name, by=None, actor="seed_demo")
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

    def _person(
        self, username: str, first: str, last: str, roles: list[tuple[str, str | None, Role]]
    ) -> User:
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

    def _facilitator(self, user: User) -> None:
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

    def _candidates(self, coordinator: User) -> None:
        trial_site = TrialSite.objects.get(trial__code="COMP360-TRD-P3", site__code="LON")
        if Participant.objects.at_site(trial_site).exists():
            return
        for given_name, family_name, born in CANDIDATES:
            participant_create(
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
