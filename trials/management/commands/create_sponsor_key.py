"""Create a sponsor's API key: printed once, stored only as a hash."""

import datetime
import getpass
from typing import cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from trials.sponsor_api.models import SponsorApiKey
from trials.sponsor_api.services import sponsor_api_key_create
from trials.study.models import Sponsor

NAME_MAX_LENGTH = cast(int, SponsorApiKey._meta.get_field("name").max_length)  # a CharField


class Command(BaseCommand):
    help = "Create an API key for a sponsor. The key is printed once and cannot be shown again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sponsor", required=True, help="The sponsor's name, as stored.")
        parser.add_argument(
            "--name", help=f"A label for the key, at most {NAME_MAX_LENGTH} characters."
        )
        parser.add_argument(
            "--expires-in-days", type=int, metavar="N", help="The key stops working after N days."
        )

    def handle(
        self,
        *args: object,
        sponsor: str,
        name: str | None,
        expires_in_days: int | None,
        **options: object,
    ) -> None:
        owner = sponsor_named(sponsor)
        label = key_label(name)
        expiry = expiry_after(expires_in_days)
        actor = f"{getpass.getuser()} (manage.py create_sponsor_key)"
        api_key, key = sponsor_api_key_create(
            sponsor=owner, name=label, expires_at=expiry, by=None, actor=actor
        )
        until = f"expires {expiry:%Y-%m-%d %H:%M} UTC" if expiry else "does not expire"
        self.stdout.write(
            f"Created API key {label!r} for {owner.name} (prefix {api_key.prefix}, {until}):"
        )
        self.stdout.write(key)
        self.stdout.write(
            self.style.WARNING("Store it now: it cannot be shown again (only its hash is kept).")
        )


def sponsor_named(name: str) -> Sponsor:
    """The sponsor of that exact name; a CommandError listing the known names otherwise."""
    sponsor = Sponsor.objects.filter(name=name).first()
    if sponsor is None:
        known = ", ".join(repr(n) for n in Sponsor.objects.values_list("name", flat=True))
        raise CommandError(f"No sponsor named {name!r}. Known sponsors: {known or 'none yet'}.")
    return sponsor


def key_label(name: str | None) -> str:
    """The key's label: the one given, or the day of creation."""
    label = (name if name is not None else f"Created {timezone.now():%Y-%m-%d}").strip()
    if not label or len(label) > NAME_MAX_LENGTH:
        raise CommandError(f"--name must be 1 to {NAME_MAX_LENGTH} characters long.")
    return label


def expiry_after(days: int | None) -> datetime.datetime | None:
    """When a key valid for that many days expires (None: never)."""
    if days is None:
        return None
    if days < 1:
        raise CommandError("--expires-in-days must be at least 1.")
    return timezone.now() + datetime.timedelta(days=days)
