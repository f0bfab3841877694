"""Booking a visit, the dosing session log and therapy sessions."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from trials.facilitators.models import Facilitator
from trials.forms import ReasonField, SiteDateTimeField
from trials.sessions.models import DosingSession, Route, TherapySession, VitalSign
from trials.sessions.services import DAY_FIELDS, PREDOSE_FIELDS

# Above this temperature a vitals row is flagged as it is typed.
FEVER_CELSIUS = 38.0


class VisitBookForm(forms.Form):
    starts_at = forms.DateTimeField()  # replaced per site in __init__
    room = forms.CharField(max_length=100, required=False)
    facilitators: forms.ModelMultipleChoiceField[Facilitator] = forms.ModelMultipleChoiceField(
        queryset=None, required=False
    )
    reason = ReasonField(required=False, help_text="Needed outside the window or to reschedule.")

    def __init__(
        self, *args: Any, time_zone: str, facilitators: QuerySet[Facilitator], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["starts_at"] = SiteDateTimeField(
            time_zone=time_zone, label=f"Date and time ({time_zone})"
        )
        cast(forms.ModelMultipleChoiceField, self.fields["facilitators"]).queryset = facilitators
        self.fields["facilitators"].widget.attrs["size"] = 4


class _SessionLogForm(forms.ModelForm):
    """Part of the dosing session log; saved values change only with a reason."""

    reason = ReasonField(
        required=False, help_text="Required to change a saved value or a signed log."
    )

    def __init__(self, *args: Any, time_zone: str, limits: dict[str, Any], **kwargs: Any) -> None:
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
        return {
            name: self.cleaned_data[name] for name in cast("Collection[str]", self._meta.fields)
        }


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

    def __init__(self, *args: Any, time_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dosed_at"] = SiteDateTimeField(
            time_zone=time_zone, label=f"Time of dose, T0 ({time_zone})"
        )


class SupplementForm(forms.Form):
    supplement_lot_number = forms.CharField(max_length=40, label="Lot number")
    supplement_at = forms.DateTimeField()

    def __init__(self, *args: Any, time_zone: str, **kwargs: Any) -> None:
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

    def __init__(self, *args: Any, time_zone: str, limits: dict[str, Any], **kwargs: Any) -> None:
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
        return {
            name: self.cleaned_data[name] for name in cast("Collection[str]", self._meta.fields)
        }


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

    def __init__(
        self, *args: Any, time_zone: str, facilitators: QuerySet[Facilitator], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["started_at"] = SiteDateTimeField(
            time_zone=time_zone, required=False, label=f"Started ({time_zone})"
        )
        cast(forms.ModelChoiceField, self.fields["facilitator"]).queryset = facilitators
        self.fields["facilitator"].required = False

    def values(self) -> dict:
        return {
            name: self.cleaned_data[name] for name in cast("Collection[str]", self._meta.fields)
        }
