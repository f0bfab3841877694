"""Consent, unblinding and exit forms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db.models import QuerySet

from trials.enrollment.models import ExitKind, ExitReason
from trials.forms import DateInput, ReasonField, SiteDateTimeField

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ConsentForm(forms.Form):
    consented_at = forms.DateTimeField()  # replaced per site in __init__
    obtained_by: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        queryset=None, label="Consent obtained by"
    )
    participant_confirmed = forms.BooleanField(
        label="The participant signed the consent form and confirmed they understood it"
    )

    def __init__(self, *args: Any, time_zone: str, staff: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consented_at"] = SiteDateTimeField(
            time_zone=time_zone, label=f"Date and time of consent ({time_zone})"
        )
        obtained_by = cast("forms.ModelChoiceField[User]", self.fields["obtained_by"])
        obtained_by.queryset = staff
        # Django's documented way to label one field's choices: replace the method.
        obtained_by.label_from_instance = lambda user: (  # type: ignore[assignment]
            user.get_full_name() or user.get_username()
        )


class UnblindForm(forms.Form):
    reason = ReasonField(label="Medical reason for unblinding", help_text="")
    password = forms.CharField(
        widget=forms.PasswordInput,
        label="Your password",
        help_text="Re-enter your password to sign.",
    )


class ExitForm(forms.Form):
    kind = forms.ChoiceField(choices=ExitKind.choices, label="Outcome")
    reason = forms.ChoiceField(choices=ExitReason.choices)
    details = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    exited_on = forms.DateField(widget=DateInput(), label="Date")
