"""The trials app's models, one module per part of the domain."""

from trials.models.access import (
    CLINICAL_ROLES,
    IDENTITY_ROLES,
    SITE_CODE_PATTERN,
    TIME_ZONE_CHOICES,
    TRIAL_WIDE_ROLES,
    AuditedUser,
    Credential,
    Facilitator,
    Membership,
    Role,
    Site,
    Sponsor,
    SponsorApiKey,
)
from trials.models.participants import (
    PARTICIPANT_TRANSITIONS,
    Participant,
    ParticipantContact,
    ParticipantStatus,
    Signature,
    SignatureMeaning,
)
from trials.models.trials import TRIAL_CODE_PATTERN, Arm, ProtocolVersion, Trial, TrialSite
from trials.models.triggers import protect_deletes

__all__ = [
    "CLINICAL_ROLES",
    "IDENTITY_ROLES",
    "PARTICIPANT_TRANSITIONS",
    "SITE_CODE_PATTERN",
    "TIME_ZONE_CHOICES",
    "TRIAL_CODE_PATTERN",
    "TRIAL_WIDE_ROLES",
    "Arm",
    "AuditedUser",
    "Credential",
    "Facilitator",
    "Membership",
    "Participant",
    "ParticipantContact",
    "ParticipantStatus",
    "ProtocolVersion",
    "Role",
    "Signature",
    "SignatureMeaning",
    "Site",
    "Sponsor",
    "SponsorApiKey",
    "Trial",
    "TrialSite",
    "protect_deletes",
]
