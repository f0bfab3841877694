from django.apps import AppConfig

# The app's feature packages (docs/architecture.md), each with the same module map.
FEATURE_PACKAGES = (
    "study",
    "facilitators",
    "participants",
    "enrollment",
    "sessions",
    "safety",
    "notifications",
    "dashboards",
    "sponsor_api",
)


class TrialsConfig(AppConfig):
    name = "trials"
