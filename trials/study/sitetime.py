"""Dates as a site sees them: in the site's own time zone."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.utils import timezone

if TYPE_CHECKING:
    pass


def local_date(moment: datetime.datetime, time_zone: str) -> datetime.date:
    """The calendar day a moment falls on at a site."""
    return moment.astimezone(ZoneInfo(time_zone)).date()


def today_at(site_time_zone: str) -> datetime.date:
    """Today's date at the site."""
    return local_date(timezone.now(), site_time_zone)
