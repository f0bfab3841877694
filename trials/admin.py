"""The trials app's admin: each feature package registers its own models."""

from trials.enrollment import admin as enrollment_admin  # noqa: F401
from trials.facilitators import admin as facilitators_admin  # noqa: F401
from trials.notifications import admin as notifications_admin  # noqa: F401
from trials.sponsor_api import admin as sponsor_api_admin  # noqa: F401
from trials.study import admin as study_admin  # noqa: F401
