"""Web forms for trials and participants: they validate input and hand it to a service."""

from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError

from trials.audit import MIN_REASON_LENGTH
from trials.models import ExitKind, ExitReason, Participant, ParticipantContact
from trials.services import CONTACT_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"


class ContactForm(forms.ModelForm):
    class Meta:
        model = ParticipantContact
        fields = CONTACT_FIELDS
        widgets = {"date_of_birth": DateInput(), "address": forms.Textarea(attrs={"rows": 3})}


class ReasonField(forms.CharField):
    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("label", "Reason for change")
        kwargs.setdefault("min_length", MIN_REASON_LENGTH)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        kwargs.setdefault("help_text", "Recorded in the audit trail with your name and the time.")
        super().__init__(**kwargs)


class ContactEditForm(ContactForm):
    reason = ReasonField()


class ParticipantFilterForm(forms.Form):
    q = forms.CharField(label="Study ID", required=False)
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Participant.Status.choices], required=False
    )


class SiteDateTimeField(forms.DateTimeField):
    """A date and time typed in the site's time zone, stored as an aware UTC moment."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, *, time_zone: str, **kwargs):  # type: ignore[no-untyped-def]
        self.time_zone = ZoneInfo(time_zone)
        super().__init__(**kwargs)

    def to_python(self, value):  # type: ignore[no-untyped-def]
        moment = super().to_python(value)
        if moment is None:
            return None
        return moment.replace(tzinfo=None).replace(tzinfo=self.time_zone)


class ConsentForm(forms.Form):
    consented_at = forms.DateTimeField()  # replaced per site in __init__
    obtained_by = forms.ModelChoiceField(queryset=None, label="Consent obtained by")
    participant_confirmed = forms.BooleanField(
        label="The participant signed the consent form and confirmed they understood it"
    )

    def __init__(self, *args, time_zone: str, staff, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["consented_at"] = SiteDateTimeField(
            time_zone=time_zone, label=f"Date and time of consent ({time_zone})"
        )
        self.fields["obtained_by"].queryset = staff
        self.fields["obtained_by"].label_from_instance = lambda user: (
            user.get_full_name() or user.get_username()
        )


class UnblindForm(forms.Form):
    reason = ReasonField(label="Medical reason for unblinding", help_text="")
    password = forms.CharField(
        widget=forms.PasswordInput,
        label="Your password",
        help_text="Re-enter your password to sign.",
    )


class VisitBookForm(forms.Form):
    starts_at = forms.DateTimeField()  # replaced per site in __init__
    room = forms.CharField(max_length=100, required=False)
    facilitators = forms.ModelMultipleChoiceField(queryset=None, required=False)
    reason = ReasonField(required=False, help_text="Needed outside the window or to reschedule.")

    def __init__(self, *args, time_zone: str, facilitators, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["starts_at"] = SiteDateTimeField(
            time_zone=time_zone, label=f"Date and time ({time_zone})"
        )
        self.fields["facilitators"].queryset = facilitators
        self.fields["facilitators"].widget.attrs["size"] = 4


class ExitForm(forms.Form):
    kind = forms.ChoiceField(choices=ExitKind.choices, label="Outcome")
    reason = forms.ChoiceField(choices=ExitReason.choices)
    details = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    exited_on = forms.DateField(widget=DateInput(), label="Date")


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: by field where it names one, else on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)
