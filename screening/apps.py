from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "screening"

    def ready(self) -> None:
        # Screening plugs into trials' registries; trials itself never reads screening.
        from screening import (
            queries,
            schema,  # noqa: F401  (registers the eligibility endpoint's schema)
        )
        from screening.exports import SCREENINGS
        from trials.dashboards.queries import register_count, register_failed_criteria
        from trials.sponsor_api.exports import register_resource

        register_resource(SCREENINGS, after="participants")
        register_count("screened", queries.screened)
        register_failed_criteria(queries.failed_criteria)
