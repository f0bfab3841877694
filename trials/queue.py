"""Handing work to Celery after the transaction commits, without ever failing the request.

A task is only a faster path: every piece of work it does is also found by a periodic
reconciliation, so when Redis is down the message is dropped with a warning and the work
happens a few minutes later instead.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Options for every project task: redelivered when a worker dies mid-run, which is safe because
# running a task again does no work twice.
IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


def publish(task_name: str, *args: Any) -> bool:
    """Send a task now; False (logged) when the broker cannot take it."""
    task = import_string(task_name)  # a wrong name is a bug: it raises here, loudly
    try:
        task.apply_async(args=args)
    except Exception:  # kombu and redis raise many kinds; the reconciliation covers them all
        logger.warning(
            "Could not queue %s%r; it will be resumed by the periodic reconciliation",
            task_name,
            args,
            exc_info=True,
        )
        return False
    return True


def after_commit(task_name: str, *args: Any) -> None:
    """Send a task once the current transaction has committed (at once outside one)."""
    transaction.on_commit(lambda: publish(task_name, *args))
