"""Writes with rules for the trials app, one module per part of the domain.

Each service runs in one transaction, audited with the acting user and the reason.
"""

from trials.services.enrollment import (
    consent_record,
    participant_exit,
    participant_randomize,
    participant_unblind,
)
from trials.services.export_jobs import (
    export_job_create,
    export_job_run,
    export_jobs_resume,
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
from trials.services.safety import (
    adverse_event_report,
    adverse_event_review,
    adverse_event_update,
    assessment_record,
    risk_screen_record,
)
from trials.services.schedule import visit_book
from trials.services.sessions import (
    dosing_session_give_dose,
    dosing_session_not_given,
    dosing_session_override_vitals,
    dosing_session_sign,
    dosing_session_start,
    dosing_session_supplement,
    dosing_session_update,
    therapy_session_record,
    vital_sign_add,
)

__all__ = [
    "export_job_create",
    "export_job_run",
    "export_jobs_resume",
    "adverse_event_report",
    "adverse_event_review",
    "adverse_event_update",
    "assessment_record",
    "dosing_session_give_dose",
    "dosing_session_not_given",
    "dosing_session_override_vitals",
    "dosing_session_sign",
    "dosing_session_start",
    "dosing_session_supplement",
    "dosing_session_update",
    "risk_screen_record",
    "therapy_session_record",
    "vital_sign_add",
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
