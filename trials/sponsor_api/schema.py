"""How the sponsor API's authentication appears in the OpenAPI schema."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SponsorKeyScheme(OpenApiAuthenticationExtension):
    target_class = "trials.sponsor_api.authentication.SponsorKeyAuthentication"
    name = "SponsorApiKey"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A sponsor's key, sent as `Api-Key <key>`.",
        }
