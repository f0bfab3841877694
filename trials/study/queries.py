"""Reads about who works where."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from trials.study.models import Role, Site, Trial


def site_staff(*, trial: Trial, site: Site, roles: tuple[Role, ...]) -> QuerySet[User]:
    """The users holding one of the roles at the trial's site, by family name."""
    return (
        get_user_model()
        .objects.filter(
            memberships__trial=trial, memberships__site=site, memberships__role__in=roles
        )
        .distinct()
        .order_by("last_name")
    )
