"""Database triggers shared by the clinical models."""

import pgtrigger


def protect_deletes() -> pgtrigger.Protect:
    """A database trigger refusing DELETE: clinical records are never lost."""
    return pgtrigger.Protect(name="protect_deletes", operation=pgtrigger.Delete)


def touch_updated_at() -> pgtrigger.Trigger:
    """`updated_at` is the database's clock on every insert and update, whatever the writer.

    A queryset `.update()` or raw SQL bypasses Django's `auto_now`; incremental exports
    (`?updated_since=`) must still see the change.
    """
    return pgtrigger.Trigger(
        name="touch_updated_at",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update,
        func="NEW.updated_at = clock_timestamp(); RETURN NEW;",
    )
