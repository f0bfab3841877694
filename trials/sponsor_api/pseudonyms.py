"""De-identification for sponsors: pseudonyms, ages and dates, by the sponsor's export profile.

Pure functions: no Django, no database. Every export format (JSON, CSV, NDJSON, ODM, FHIR)
goes through these, so a participant carries the same pseudonym and the same date precision
in all of them.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac

SAFE_HARBOR = "safe_harbor"
LIMITED = "limited"
PROFILES = (SAFE_HARBOR, LIMITED)
# HIPAA Safe Harbor: ages over 89 are one category.
OLDEST_AGE = 90


def pseudonym(secret: str, participant_id: int) -> str:
    """The participant's name for one sponsor: stable, unlinkable across sponsors.

    HMAC-SHA256 of the internal id under the sponsor's secret, 60 bits in base32:
    the same participant always gets the same pseudonym for the same sponsor.
    """
    digest = hmac.new(secret.encode(), str(participant_id).encode(), hashlib.sha256).digest()
    return "P-" + base64.b32encode(digest[:8]).decode()[:12]


def age_in_years(born: datetime.date, on: datetime.date) -> int:
    """Whole years between a birth date and a day."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_category(born: datetime.date | None, on: datetime.date | None) -> str | None:
    """Age on a day in years as text, with every age from 90 up reported as '90+'."""
    if born is None or on is None:
        return None
    years = age_in_years(born, on)
    return f"{OLDEST_AGE}+" if years >= OLDEST_AGE else str(years)


def reduce_date(value: datetime.date | datetime.datetime | None, profile: str) -> str | None:
    """A date or time as the profile allows: its year (Safe Harbor) or in full (limited).

    Times are given in UTC, ISO 8601.
    """
    if value is None:
        return None
    if profile not in PROFILES:
        raise ValueError(f"Unknown export profile {profile!r}.")
    if profile == SAFE_HARBOR:
        return f"{value.year:04d}"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()
