"""The data manager's admin: users, sites, memberships, facilitators, protocol files.

Clinical records (participants and what hangs off them) are not edited here: they change only
through the services, which demand a reason.
"""

from django.contrib import admin

from trials.models import (
    Arm,
    Credential,
    Facilitator,
    Membership,
    ProtocolVersion,
    Site,
    Sponsor,
    Trial,
    TrialSite,
)


@admin.register(Sponsor)
class SponsorAdmin(admin.ModelAdmin):
    list_display = ["name", "safety_contact_email"]
    search_fields = ["name"]


class ArmInline(admin.TabularInline):
    model = Arm
    extra = 0
    can_delete = False
    readonly_fields = ["code", "label", "dose_mg"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # arms come from the protocol file


class TrialSiteInline(admin.TabularInline):
    model = TrialSite
    extra = 0
    can_delete = False
    fields = ["site", "is_active", "activated_on", "enrollment_cap"]


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "sponsor", "phase", "target_enrollment"]
    search_fields = ["code", "title"]
    readonly_fields = ["code", "sponsor", "created_at"]
    inlines = [ArmInline, TrialSiteInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # trials are created by loading a protocol file

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ProtocolVersion)
class ProtocolVersionAdmin(admin.ModelAdmin):
    list_display = ["trial", "number", "source_name", "loaded_at", "loaded_by"]
    list_filter = ["trial"]
    readonly_fields = [
        "trial",
        "number",
        "content_hash",
        "source_name",
        "loaded_at",
        "loaded_by",
        "source",
        "content",
    ]
    exclude = []

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "time_zone"]
    search_fields = ["code", "name"]


@admin.register(TrialSite)
class TrialSiteAdmin(admin.ModelAdmin):
    list_display = ["trial", "site", "is_active", "activated_on", "enrollment_cap"]
    list_filter = ["trial", "is_active"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "trial", "site", "role", "created_at"]
    list_filter = ["trial", "site", "role"]
    search_fields = ["user__username", "user__last_name"]
    autocomplete_fields = ["user"]


class CredentialInline(admin.StackedInline):
    model = Credential
    extra = 0


@admin.register(Facilitator)
class FacilitatorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user"]
    search_fields = ["user__username", "user__last_name"]
    inlines = [CredentialInline]
