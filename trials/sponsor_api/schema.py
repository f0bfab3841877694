"""How the sponsor API's authentication appears in the OpenAPI schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema


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
