"""Web forms for trials and participants: they validate input and hand it to a service."""

from django import forms

from trials.audit import MIN_REASON_LENGTH
from trials.models import Participant, ParticipantContact
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
