from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "screening"

    def ready(self) -> None:
        # Screening plugs into trials' registries; trials itself never reads screening.
        from screening import schema  # noqa: F401  (registers the eligibility endpoint's schema)
        from screening.exports import SCREENINGS
        from trials.sponsor_api.exports import register_resource

        register_resource(SCREENINGS, after="participants")
