"""How the pre-screen endpoint (screening/api.py) appears in the sponsor API's OpenAPI schema.

drf-spectacular registers an extension when its class is defined: screening/apps.py imports
this module when the app is ready.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from screening.serializers import EligibilityRequestSerializer, EligibilityVerdictSerializer


class EligibilitySchema(OpenApiViewExtension):
    """The pre-screen endpoint with its request and verdict shapes."""

    target_class = "screening.api.trial_eligibility"

    def view_replacement(self) -> type[APIView]:
        # The discovered view class, a run-time value the checker cannot use as a base.
        class Fixed(self.target):  # type: ignore[name-defined]
            @extend_schema(
                summary="Pre-screen a candidate's data (saves nothing)",
                request=EligibilityRequestSerializer,
                responses={
                    200: EligibilityVerdictSerializer,
                    400: OpenApiResponse(description="Invalid data: errors by field."),
                    401: OpenApiResponse(description="No key or session."),
                    404: OpenApiResponse(description="No trial with this code for the caller."),
                },
            )
            def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
                return super().post(request, *args, **kwargs)

        return Fixed
