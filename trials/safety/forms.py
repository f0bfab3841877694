"""Assessments, the C-SSRS screen, adverse events and their review."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db.models import Field, QuerySet
from django.utils import timezone

from trials.forms import ReasonField, SiteDateTimeField
from trials.safety.models import AdverseEvent, SuicideRiskScreen
from trials.safety.services import AE_FIELDS
from trials.sessions.models import DosingSession, Visit

if TYPE_CHECKING:
    from trials.safety.queries import Instrument


CSSRS_QUESTIONS = (
    "wish_to_be_dead",
    "suicidal_thoughts",
    "thoughts_with_method",
    "intent",
    "plan",
    "recent_behaviour",
)
YES_NO = [("yes", "Yes"), ("no", "No")]


class LocalDateTimeField(SiteDateTimeField):
    """SiteDateTimeField that also shows a saved moment in the site's time zone, not in UTC."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, datetime.datetime) and timezone.is_aware(value):
            return value.astimezone(self.time_zone).replace(tzinfo=None)
        return value


def _moment(time_zone: str, label: str, *, required: bool = True) -> LocalDateTimeField:
    return LocalDateTimeField(
        time_zone=time_zone, label=f"{label} ({time_zone})", required=required
    )


def _now() -> datetime.datetime:
    return timezone.now().replace(second=0, microsecond=0)


class AssessmentForm(forms.Form):
    instrument = forms.ChoiceField(label="Rating scale")
    score = forms.DecimalField()  # replaced in __init__: bounded by the event's scales
    assessed_at = forms.DateTimeField()  # replaced per site in __init__

    def __init__(
        self, *args: Any, instruments: list[Instrument], time_zone: str, **kwargs: Any
    ) -> None:
        kwargs.setdefault("initial", {"assessed_at": _now()})
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["instrument"]).choices = [
            (item.code, f"{item.code} · {item.label}") for item in instruments
        ]
        low = min(item.minimum for item in instruments)
        high = max(item.maximum for item in instruments)
        # The outer bounds only: each scale's own range is the service's rule.
        self.fields["score"] = forms.DecimalField(
            label="Total score",
            max_digits=7,
            decimal_places=2,
            min_value=low,
            max_value=high,
            help_text="; ".join(item.range_text for item in instruments),
        )
        self.fields["assessed_at"] = _moment(time_zone, "Date and time assessed")


def _question(name: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=cast("Field[Any, Any]", SuicideRiskScreen._meta.get_field(name)).help_text,
        choices=YES_NO,
        coerce=lambda answer: answer == "yes",
        widget=forms.RadioSelect,
    )


class RiskScreenForm(forms.Form):
    assessed_at = forms.DateTimeField()  # replaced per site in __init__
    visit = forms.ModelChoiceField(
        queryset=Visit.objects.none(), required=False, label="At visit", empty_label="No visit"
    )
    wish_to_be_dead = _question("wish_to_be_dead")
    suicidal_thoughts = _question("suicidal_thoughts")
    thoughts_with_method = _question("thoughts_with_method")
    intent = _question("intent")
    plan = _question("plan")
    recent_behaviour = _question("recent_behaviour")

    def __init__(self, *args: Any, visits: QuerySet[Visit], time_zone: str, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"assessed_at": _now()})
        super().__init__(*args, **kwargs)
        self.fields["assessed_at"] = _moment(time_zone, "Date and time of the screen")
        self.order_fields(["assessed_at", "visit"])
        visit = cast("forms.ModelChoiceField[Visit]", self.fields["visit"])
        visit.queryset = visits
        # Django's documented way to label one field's choices: replace the method.
        visit.label_from_instance = lambda visit: visit.label  # type: ignore[assignment]

    def questions(self) -> list[forms.BoundField]:
        """The six yes/no questions, in the order the C-SSRS asks them."""
        return [self[name] for name in CSSRS_QUESTIONS]

    def answers(self) -> dict[str, bool]:
        """The cleaned answers, by model field."""
        return {name: self.cleaned_data[name] for name in CSSRS_QUESTIONS}


class AdverseEventForm(forms.ModelForm):
    class Meta:
        model = AdverseEvent
        fields = AE_FIELDS
        labels = {
            "term": "Event term",
            "ended_at": "Ended",
            "results_in_death": "Resulted in death",
            "life_threatening": "Life-threatening",
            "hospitalization": "Hospitalization",
            "disability": "Disability or incapacity",
            "congenital_anomaly": "Congenital anomaly or birth defect",
            "other_important_event": "Other important medical event",
            "relatedness": "Related to the study drug",
            "dosing_session": "During or after dosing session",
        }
        help_texts = {
            "results_in_death": "This and the next five are the seriousness criteria: "
            "any one of them makes the event serious."
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(
        self, *args: Any, time_zone: str, sessions: QuerySet[DosingSession], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["onset_at"] = _moment(time_zone, "Onset")
        self.fields["ended_at"] = _moment(time_zone, "Ended", required=False)
        session = cast("forms.ModelChoiceField[DosingSession]", self.fields["dosing_session"])
        session.queryset = sessions
        # Django's documented way to label one field's choices: replace the method.
        session.label_from_instance = lambda session: session.visit.label  # type: ignore[assignment]
        session.empty_label = "Not linked to a dosing session"

    def values(self) -> dict[str, Any]:
        """The adverse event's fields as the services take them."""
        return {name: self.cleaned_data[name] for name in AE_FIELDS}


class AdverseEventCorrectionForm(AdverseEventForm):
    reason = ReasonField(help_text="Recorded in the audit trail. The investigator signs again.")


class ReviewForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput,
        label="Your password",
        help_text="Re-enter your password to sign the review of this adverse event as recorded.",
    )
