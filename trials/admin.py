"""The data manager's admin: users, sites, memberships, facilitators, protocol files.

Clinical records (participants and what hangs off them) are not edited here: they change only
through the services, which demand a reason.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from trials import services
from trials.models import (
    Arm,
    ConsentFormVersion,
    Credential,
    Delivery,
    ExportRequest,
    Facilitator,
    Membership,
    Notification,
    ProtocolVersion,
    Site,
    Sponsor,
    SponsorApiKey,
    Trial,
    TrialSite,
)
from trials.protocol import ProtocolError


@admin.register(Sponsor)
class SponsorAdmin(admin.ModelAdmin):
    list_display = ["name", "safety_contact_email", "export_profile"]
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


class ProtocolUploadForm(forms.Form):
    MAX_BYTES = 1024 * 1024

    protocol_file = forms.FileField(
        help_text="YAML or JSON, in the format of docs/protocol-format.md."
    )

    def clean_protocol_file(self):  # type: ignore[no-untyped-def]
        upload = self.cleaned_data["protocol_file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("A protocol file is at most 1 MB.")
        return upload


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

    def add_view(self, request, form_url="", extra_context=None):  # type: ignore[no-untyped-def]
        """Adding a version means uploading a protocol file, validated as load_protocol does."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ProtocolUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["protocol_file"]
            try:
                version, created = services.protocol_load(
                    content=upload.read(), filename=upload.name, by=request.user
                )
            except ProtocolError as error:
                form.add_error("protocol_file", error.errors)
            else:
                self.message_user(request, version.summary(created=created), messages.SUCCESS)
                return redirect("admin:trials_protocolversion_change", version.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a protocol file",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/trials/protocolversion/upload.html", context)


@admin.register(ConsentFormVersion)
class ConsentFormVersionAdmin(admin.ModelAdmin):
    list_display = ["trial", "label", "approved_on", "effective_from"]
    list_filter = ["trial"]

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # consents refer to it; the database refuses deletions too


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


# The library's own key model is not used: keys made there would belong to no sponsor.
admin.site.unregister(APIKey)


@admin.register(SponsorApiKey)
class SponsorApiKeyAdmin(APIKeyModelAdmin):
    list_display = ["sponsor", "name", "prefix", "created", "expiry_date", "revoked"]
    list_filter = ["sponsor", "revoked"]
    search_fields = ["sponsor__name", "prefix"]
    list_select_related = ["sponsor"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if obj is None else (*readonly, "sponsor")  # a key never changes hands


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record the system writes: the data manager reads it, never changes it."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ["attempt", "attempted_at", "outcome", "sent_to", "subject", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
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


@admin.register(ExportRequest)
class ExportRequestAdmin(ReadOnlyAdmin):
    """Every export a sponsor's key read: who, what, how many rows."""

    list_display = ["started_at", "sponsor", "trial", "resource", "format", "rows", "status_code"]
    list_filter = ["sponsor", "resource", "format"]
    date_hierarchy = "started_at"
    list_select_related = ["sponsor", "trial"]
