"""Sponsor API keys and the export request log in the admin."""

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from trials.notifications.admin import ReadOnlyAdmin
from trials.sponsor_api.models import ExportRequest, SponsorApiKey

# The library's own key model is not used: keys made there would belong to no sponsor.
admin.site.unregister(APIKey)


@admin.register(SponsorApiKey)
class SponsorApiKeyAdmin(APIKeyModelAdmin):
    # The library's admin sets these as tuples, which mypy infers as fixed-length tuple types.
    list_display = ["sponsor", "name", "prefix", "created", "expiry_date", "revoked"]  # type: ignore[assignment]
    list_filter = ["sponsor", "revoked"]  # type: ignore[assignment]
    search_fields = ["sponsor__name", "prefix"]  # type: ignore[assignment]
    list_select_related = ["sponsor"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Model | None = None
    ) -> tuple[str, ...]:
        # The library types obj as a Model although its default is None.
        readonly = tuple(super().get_readonly_fields(request, obj))  # type: ignore[arg-type]
        return readonly if obj is None else (*readonly, "sponsor")  # a key never changes hands


@admin.register(ExportRequest)
class ExportRequestAdmin(ReadOnlyAdmin):
    """Every export a sponsor's key read: who, what, how many rows."""

    list_display = ["started_at", "sponsor", "trial", "resource", "format", "rows", "status_code"]
    list_filter = ["sponsor", "resource", "format"]
    date_hierarchy = "started_at"
    list_select_related = ["sponsor", "trial"]
