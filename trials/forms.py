"""Web forms for trials and participants: they validate input and hand it to a service."""

from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError

from trials.audit import MIN_REASON_LENGTH
from trials.models import (
    DosingSession,
    ExitKind,
    ExitReason,
    Participant,
    ParticipantContact,
    TherapySession,
    VitalSign,
)
from trials.models.sessions import Route
from trials.services import CONTACT_FIELDS
from trials.services.sessions import DAY_FIELDS, PREDOSE_FIELDS

# Above this temperature a vitals row is flagged as it is typed.
FEVER_CELSIUS = 38.0


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


class _SessionLogForm(forms.ModelForm):
    """Part of the dosing session log; saved values change only with a reason."""

    reason = ReasonField(
        required=False, help_text="Required to change a saved value or a signed log."
    )

    def __init__(self, *args, time_zone: str, limits: dict, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if "ended_at" in self.fields:
            self.fields["ended_at"] = SiteDateTimeField(
                time_zone=time_zone, required=False, label=f"Session end ({time_zone})"
            )
        for name, limit in (
            ("predose_systolic", "max_systolic_bp"),
            ("predose_diastolic", "max_diastolic_bp"),
            ("predose_heart_rate", "max_heart_rate"),
        ):
            if name in self.fields and limits.get(limit):
                # The browser marks a value above the limit as it is typed (:out-of-range).
                self.fields[name].widget.attrs["max"] = limits[limit]

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class PredoseForm(_SessionLogForm):
    class Meta:
        model = DosingSession
        fields = PREDOSE_FIELDS
        labels = {
            "eligibility_confirmed": "Eligibility still valid (investigator's confirmation)",
            "consent_current": "Consent current (form in effect signed)",
            "medications_stopped": "Contraindicated medications stopped",
            "washout_days": "Washout (days since last dose)",
            "predose_systolic": "Pre-dose systolic (mmHg)",
            "predose_diastolic": "Pre-dose diastolic (mmHg)",
            "predose_heart_rate": "Pre-dose heart rate (bpm)",
            "predose_temperature": "Pre-dose temperature (°C)",
        }


class DayForm(_SessionLogForm):
    class Meta:
        model = DosingSession
        fields = DAY_FIELDS
        labels = {
            "interventions": "Interventions (therapeutic, physical)",
            "release_alert_and_oriented": "Release: alert and oriented",
            "release_vitals_stable": "Release: vital signs stable",
            "release_escort_arranged": "Release: escort home or overnight stay arranged",
            "notes": "Session notes",
        }
        widgets = {
            name: forms.Textarea(attrs={"rows": 2})
            for name in ("interventions", "rescue_medication", "notes")
        }


class DoseForm(forms.Form):
    kit_code = forms.CharField(max_length=20, help_text="As printed on the kit dispensed.")
    lot_number = forms.CharField(max_length=40)
    route = forms.ChoiceField(choices=Route.choices)
    dosed_at = forms.DateTimeField()

    def __init__(self, *args, time_zone: str, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["dosed_at"] = SiteDateTimeField(
            time_zone=time_zone, label=f"Time of dose, T0 ({time_zone})"
        )


class SupplementForm(forms.Form):
    supplement_lot_number = forms.CharField(max_length=40, label="Lot number")
    supplement_at = forms.DateTimeField()

    def __init__(self, *args, time_zone: str, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["supplement_at"] = SiteDateTimeField(
            time_zone=time_zone, label=f"Time of supplemental dose ({time_zone})"
        )


class NotGivenForm(forms.Form):
    not_given_reason = ReasonField(label="Why the dose was not given", help_text="")


class VitalSignForm(forms.ModelForm):
    class Meta:
        model = VitalSign
        fields = ("measured_at", "systolic", "diastolic", "heart_rate", "temperature")

    reason = ReasonField(required=False, help_text="Required once the log is signed.")

    def __init__(self, *args, time_zone: str, limits: dict, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["measured_at"] = SiteDateTimeField(
            time_zone=time_zone, label=f"Time ({time_zone})"
        )
        for name, limit in (
            ("systolic", "max_systolic_bp"),
            ("diastolic", "max_diastolic_bp"),
            ("heart_rate", "max_heart_rate"),
        ):
            if limits.get(limit):
                self.fields[name].widget.attrs["max"] = limits[limit]
        self.fields["temperature"].widget.attrs["max"] = FEVER_CELSIUS

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}


class OverrideForm(forms.Form):
    override_reason = ReasonField(label="Why dosing may go ahead", help_text="")
    override_password = forms.CharField(widget=forms.PasswordInput, label="Your password")


class SignForm(forms.Form):
    sign_password = forms.CharField(
        widget=forms.PasswordInput,
        label="Your password",
        help_text="Re-enter your password to sign the log.",
    )


class TherapySessionForm(forms.ModelForm):
    ATTENDANCE = [("yes", "Attended"), ("no", "Missed")]

    attended = forms.TypedChoiceField(
        choices=ATTENDANCE, coerce=lambda v: v == "yes", widget=forms.RadioSelect
    )

    class Meta:
        model = TherapySession
        fields = (
            "attended",
            "started_at",
            "duration_minutes",
            "facilitator",
            "participant_state",
            "themes",
            "plan",
            "missed_reason",
        )
        widgets = {
            name: forms.Textarea(attrs={"rows": 2})
            for name in ("participant_state", "themes", "plan", "missed_reason")
        }

    def __init__(self, *args, time_zone: str, facilitators, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["started_at"] = SiteDateTimeField(
            time_zone=time_zone, required=False, label=f"Started ({time_zone})"
        )
        self.fields["facilitator"].queryset = facilitators
        self.fields["facilitator"].required = False

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields}
