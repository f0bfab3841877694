"""Notifications with their delivery attempts, read-only."""

from typing import cast

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from trials.notifications.models import Delivery, Notification


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record the system writes: the data manager reads it, never changes it."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ["attempt", "attempted_at", "outcome", "sent_to", "subject", "error"]
    readonly_fields = cast(list[str], fields)

    def has_add_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Reminders and alerts with every delivery attempt: where to look when one did not arrive."""

    list_display = ["kind", "audience", "recipient", "participant", "due_at", "status", "attempts"]
    list_filter = ["status", "kind", "audience"]
    search_fields = ["key", "participant__study_id", "recipient__username"]
    date_hierarchy = "due_at"
    list_select_related = ["recipient", "participant"]
    inlines = [DeliveryInline]
