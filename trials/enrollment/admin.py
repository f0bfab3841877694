"""Consent form versions in the admin."""

from django.contrib import admin
from django.http import HttpRequest

from trials.enrollment.models import ConsentFormVersion


@admin.register(ConsentFormVersion)
class ConsentFormVersionAdmin(admin.ModelAdmin):
    list_display = ["trial", "label", "approved_on", "effective_from"]
    list_filter = ["trial"]

    def has_delete_permission(
        self, request: HttpRequest, obj: ConsentFormVersion | None = None
    ) -> bool:
        return False  # consents refer to it; the database refuses deletions too
