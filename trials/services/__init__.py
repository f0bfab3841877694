"""Writes with rules for the trials app, one module per part of the domain.

Each service runs in one transaction, audited with the acting user and the reason.
"""

from trials.services.enrollment import (
    consent_record,
    participant_exit,
    participant_randomize,
    participant_unblind,
)
from trials.services.participants import (
    CONTACT_FIELDS,
    allowed_transitions,
    participant_change_status,
    participant_contact_update,
    participant_create,
    participant_record_eligibility,
    signature_sign,
    study_id_for,
)
from trials.services.protocols import protocol_load, sponsor_api_key_create
from trials.services.schedule import visit_book

__all__ = [
    "consent_record",
    "participant_exit",
    "participant_randomize",
    "participant_unblind",
    "visit_book",
    "CONTACT_FIELDS",
    "allowed_transitions",
    "participant_change_status",
    "participant_contact_update",
    "participant_create",
    "participant_record_eligibility",
    "protocol_load",
    "signature_sign",
    "sponsor_api_key_create",
    "study_id_for",
]
