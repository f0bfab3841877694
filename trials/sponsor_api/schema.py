"""How the sponsor API's authentication appears in the OpenAPI schema."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView


class SponsorKeyScheme(OpenApiAuthenticationExtension):
    target_class = "trials.sponsor_api.authentication.SponsorKeyAuthentication"
    name = "SponsorApiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A sponsor's key, sent as `Api-Key <key>`.",
        }


class EligibilitySchema(OpenApiViewExtension):
    """The pre-screen endpoint (screening/api.py) with its request and verdict shapes."""

    target_class = "screening.api.trial_eligibility"

    def view_replacement(self) -> type[APIView]:
        # Read by name, only when the schema is built: trials does not import screening.
        serializers = import_module("screening.serializers")

        # The discovered view class, a run-time value the checker cannot use as a base.
        class Fixed(self.target):  # type: ignore[name-defined]
            @extend_schema(
                summary="Pre-screen a candidate's data (saves nothing)",
                request=serializers.EligibilityRequestSerializer,
                responses={
                    200: serializers.EligibilityVerdictSerializer,
                    400: OpenApiResponse(description="Invalid data: errors by field."),
                    401: OpenApiResponse(description="No key or session."),
                    404: OpenApiResponse(description="No trial with this code for the caller."),
                },
            )
            def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
                return super().post(request, *args, **kwargs)

        return Fixed
