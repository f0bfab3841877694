"""Facilitators and their credentials in the admin."""

from django.contrib import admin

from trials.facilitators.models import Credential, Facilitator


class CredentialInline(admin.StackedInline):
    model = Credential
    extra = 0


@admin.register(Facilitator)
class FacilitatorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user"]
    search_fields = ["user__username", "user__last_name"]
    inlines = [CredentialInline]
