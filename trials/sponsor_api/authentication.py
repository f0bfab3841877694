"""API authentication for sponsors: `Authorization: Api-Key <key>`."""

from __future__ import annotations

from typing import cast

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from trials.sponsor_api.models import SponsorApiKey

KEYWORD = "Api-Key"


class SponsorClient:
    """Who is calling when a sponsor's API key is used: the sponsor, never a person's account."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    is_sponsor_key = True
    pk = None

    def __init__(self, api_key: SponsorApiKey) -> None:
        self.api_key = api_key
        self.sponsor_id = api_key.sponsor_id
        self.sponsor = api_key.sponsor

    def get_username(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def get_full_name(self) -> str:
        return f"{self.sponsor.name} (API key {self.api_key.name})"

    def __str__(self) -> str:
        return self.get_full_name()


class SponsorKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[SponsorClient, SponsorApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].decode("latin-1") != KEYWORD:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the key as 'Authorization: Api-Key <key>'.")
        key = parts[1].decode("latin-1")
        try:
            # never a revoked key; the library types what its manager returns as its base class
            api_key = cast(SponsorApiKey, SponsorApiKey.objects.get_from_key(key))
        except SponsorApiKey.DoesNotExist:
            raise AuthenticationFailed("Unknown, revoked or expired API key.") from None
        if api_key.has_expired:
            raise AuthenticationFailed("Unknown, revoked or expired API key.")
        return SponsorClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD
