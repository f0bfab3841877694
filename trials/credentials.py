"""Whether a facilitator may be assigned to a dosing session: licence and training, on a day."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trials.models import Credential

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class Qualification:
    qualified: bool
    problems: tuple[str, ...]


def credential_state(credential: Credential, on: datetime.date) -> str:
    """'valid', 'expiring' (within 30 days) or 'lapsed'."""
    if credential.expires_on is None:
        return "valid"
    if credential.expires_on < on:
        return "lapsed"
    if credential.expires_on <= on + datetime.timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


def qualification(
    credentials: Iterable[Credential], requirements: Mapping[str, Any], on: datetime.date
) -> Qualification:
    """Check a facilitator's credentials against the protocol's facilitator_requirements."""
    credentials = list(credentials)
    problems = []
    licences = [c for c in credentials if c.kind == Credential.Kind.LICENCE]
    if requirements.get("licensed", True):
        if not licences:
            problems.append("no professional licence on record")
        elif all(credential_state(c, on) == "lapsed" for c in licences):
            latest = max(c.expires_on for c in licences)
            problems.append(f"licence lapsed on {latest:%Y-%m-%d}")
    hours = sum(
        c.hours or 0
        for c in credentials
        if c.kind == Credential.Kind.TRAINING
        and c.completed_on is not None
        and c.completed_on <= on
        and credential_state(c, on) != "lapsed"
    )
    needed = requirements.get("min_training_hours", 0)
    if hours < needed:
        problems.append(f"{hours} training hours of the {needed} required")
    return Qualification(not problems, tuple(problems))
