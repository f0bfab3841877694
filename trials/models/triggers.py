"""Database triggers shared by the clinical models."""

import pgtrigger


def protect_deletes() -> pgtrigger.Protect:
    """A database trigger refusing DELETE: clinical records are never lost."""
    return pgtrigger.Protect(name="protect_deletes", operation=pgtrigger.Delete)
