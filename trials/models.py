"""The trials app's models live in its feature packages; importing them here registers them."""

from trials.enrollment import models as enrollment_models  # noqa: F401
from trials.facilitators import models as facilitators_models  # noqa: F401
from trials.notifications import models as notifications_models  # noqa: F401
from trials.participants import models as participants_models  # noqa: F401
from trials.safety import models as safety_models  # noqa: F401
from trials.sessions import models as sessions_models  # noqa: F401
from trials.sponsor_api import models as sponsor_api_models  # noqa: F401
from trials.study import models as study_models  # noqa: F401
