"""The screening form, generated from the protocol's field definitions."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import forms

from trials.forms import DateInput, ReasonField

BOOLEAN_CHOICES = [("", "Not recorded"), ("yes", "Yes"), ("no", "No")]


def _label(spec: dict[str, Any]) -> str:
    return f"{spec['label']} ({spec['unit']})" if spec.get("unit") else spec["label"]


def form_field(spec: dict[str, Any]) -> forms.Field:
    """A form field for one protocol field: its type, range, choices, unit and help text."""
    common: dict[str, Any] = {
        "label": _label(spec),
        "required": False,
        "help_text": spec.get("help") or "",
    }
    kind = spec["type"]
    if kind == "integer":
        return forms.IntegerField(min_value=spec.get("min"), max_value=spec.get("max"), **common)
    if kind == "decimal":
        return forms.DecimalField(
            min_value=_decimal(spec.get("min")), max_value=_decimal(spec.get("max")), **common
        )
    if kind == "boolean":
        return forms.TypedChoiceField(
            choices=BOOLEAN_CHOICES, coerce=lambda value: value == "yes", empty_value=None, **common
        )
    if kind == "date":
        return forms.DateField(widget=DateInput(), **common)
    if kind == "choice":
        return forms.ChoiceField(
            choices=[("", "Not recorded")] + [(c, c) for c in spec["choices"]], **common
        )
    return forms.CharField(**common)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _initial(spec: dict[str, Any], value: object) -> object:
    if spec["type"] == "boolean" and value is not None:
        return "yes" if value else "no"
    return value


def to_json(value: object) -> object:
    """A cleaned form value as stored in the screening's JSON data (None: not recorded)."""
    if value in ("", None):
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class ScreeningDataForm(forms.Form):
    """One input per protocol field; every field optional so partial data can be saved."""

    prefix = "data"

    def __init__(
        self, fields: list[dict[str, Any]], saved: dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        kwargs.setdefault(
            "initial", {spec["name"]: _initial(spec, saved.get(spec["name"])) for spec in fields}
        )
        super().__init__(*args, **kwargs)
        for spec in fields:
            self.fields[spec["name"]] = form_field(spec)

    def values(self) -> dict[str, object]:
        """The submitted values as JSON data; a cleared input becomes None (value removed)."""
        return {name: to_json(value) for name, value in self.cleaned_data.items()}


class ReasonForm(forms.Form):
    reason = ReasonField(
        required=False, help_text="Required when you change a value already saved."
    )


class ConfirmForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput,
        label="Your password",
        help_text="Re-enter your password to sign.",
    )
    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Justification",
        help_text="Required to override an ineligible verdict.",
    )


class ApplyVersionForm(forms.Form):
    reason = ReasonField()


class ScreeningLogFilterForm(forms.Form):
    q = forms.CharField(label="Study ID", required=False)
    result = forms.ChoiceField(
        choices=[
            ("", "Any verdict"),
            ("eligible", "Eligible"),
            ("ineligible", "Ineligible"),
            ("incomplete", "Incomplete"),
        ],
        required=False,
    )
    criterion = forms.CharField(label="Failing criterion", required=False)
