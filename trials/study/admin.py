"""The data manager's admin for sponsors, trials, protocol versions, sites and memberships."""

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from trials.study import services
from trials.study.models import Arm, Membership, ProtocolVersion, Site, Sponsor, Trial, TrialSite
from trials.study.protocol import ProtocolError


@admin.register(Sponsor)
class SponsorAdmin(admin.ModelAdmin):
    list_display = ["name", "safety_contact_email", "export_profile"]
    search_fields = ["name"]


class ArmInline(admin.TabularInline):
    model = Arm
    extra = 0
    can_delete = False
    readonly_fields = ["code", "label", "dose_mg"]

    def has_add_permission(self, request: HttpRequest, obj: Trial | None = None) -> bool:
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # trials are created by loading a protocol file

    def has_delete_permission(self, request: HttpRequest, obj: Trial | None = None) -> bool:
        return False


class ProtocolUploadForm(forms.Form):
    MAX_BYTES = 1024 * 1024

    protocol_file = forms.FileField(
        help_text="YAML or JSON, in the format of docs/protocol-format.md."
    )

    def clean_protocol_file(self) -> UploadedFile:
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

    def has_change_permission(
        self, request: HttpRequest, obj: ProtocolVersion | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: ProtocolVersion | None = None
    ) -> bool:
        return False

    def add_view(
        self,
        request: HttpRequest,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Adding a version means uploading a protocol file, validated as load_protocol does."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ProtocolUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["protocol_file"]
            try:
                version, created = services.protocol_load(
                    content=upload.read(),
                    filename=upload.name,
                    by=cast(User, request.user),  # the admin site admits staff users only
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
