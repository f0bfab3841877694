"""An e-mail backend for the Celery processes the tests start: one file per message sent.

Slow on purpose when MAILBOX_DELAY is set, so a test can kill a worker in the middle of a
batch. The pause comes before the message is written: what is in the folder was sent.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from email import message_from_bytes
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


class Backend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = Path(os.environ["MAILBOX_DIR"])
        delay = float(os.environ.get("MAILBOX_DELAY", "0"))
        for message in email_messages:
            if delay:
                time.sleep(delay)
            if os.environ.get("MAILBOX_REFUSE"):
                raise ConnectionRefusedError("The mail server refused the connection.")
            name = folder / f"{uuid.uuid4().hex}.eml"
            partial = name.with_suffix(".part")
            partial.write_bytes(message.message().as_bytes())
            partial.rename(name)  # whole files only
        return len(email_messages)


def read(folder: Path) -> list:
    """The messages in a mailbox folder, as email.message.Message objects."""
    return [message_from_bytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]
