"""The audit context: who and why, attached to every audited write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pghistory
from django.core.exceptions import ValidationError
from django.db import connection

if TYPE_CHECKING:
    from django.contrib.auth.models import User


MIN_REASON_LENGTH = 3


@contextmanager
def audit_context(*, by: User | None, reason: str, actor: str = "system") -> Iterator[None]:
    """Attach the acting user and the reason to every audited write made inside the block.

    Without a user (a command, a task), `actor` names who or what acted.
    """
    metadata: dict[str, Any] = {"reason": reason, "username": actor, "user_name": actor}
    if by is not None:
        metadata["user"] = by.pk
        metadata["username"] = by.get_username()
        metadata["user_name"] = by.get_full_name() or by.get_username()
    with pghistory.context() as current:
        previous = dict(current.metadata)
        current.metadata.update(metadata)
        # The block's user and reason must not stick to later writes: restore the enclosing
        # context, and clear the transaction-local copy PostgreSQL keeps until commit.
        try:
            yield
        finally:
            current.metadata.clear()
            current.metadata.update(previous)
        if connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('pghistory.context_id', '', true),"
                    " set_config('pghistory.context_metadata', '', true)"
                )


def require_reason(reason: str | None, *, field: str = "reason") -> str:
    """The reason for changing a saved clinical record: mandatory, stated in words."""
    cleaned = (reason or "").strip()
    if len(cleaned) < MIN_REASON_LENGTH:
        raise ValidationError({field: "Give the reason for this change."})
    return cleaned
