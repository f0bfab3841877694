"""Form pieces the feature packages share: site-local dates, reasons, service errors on a form."""

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError

from trials.audit import MIN_REASON_LENGTH


class DateInput(forms.DateInput):
    input_type = "date"


class ReasonField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Reason for change")
        kwargs.setdefault("min_length", MIN_REASON_LENGTH)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        kwargs.setdefault("help_text", "Recorded in the audit trail with your name and the time.")
        super().__init__(**kwargs)


class SiteDateTimeField(forms.DateTimeField):
    """A date and time typed in the site's time zone, stored as an aware UTC moment."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, *, time_zone: str, **kwargs: Any) -> None:
        self.time_zone = ZoneInfo(time_zone)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime.datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        return moment.replace(tzinfo=None).replace(tzinfo=self.time_zone)


def add_errors(
    form: forms.BaseForm, error: ValidationError, *, reason_form: forms.BaseForm | None = None
) -> None:
    """Show a service's ValidationError on the form: by field where it names one, else on top.

    A page whose reason for change is a form of its own passes it: the reason's errors go there.
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        target = reason_form if name == "reason" and reason_form is not None else form
        target.add_error(name if name in target.fields else None, messages)
