"""Registering a participant, editing identity, filtering the list."""

from django import forms

from trials.forms import DateInput, ReasonField
from trials.participants.models import Participant, ParticipantContact
from trials.participants.services import CONTACT_FIELDS


class ContactForm(forms.ModelForm):
    class Meta:
        model = ParticipantContact
        fields = CONTACT_FIELDS
        widgets = {"date_of_birth": DateInput(), "address": forms.Textarea(attrs={"rows": 3})}


class ContactEditForm(ContactForm):
    reason = ReasonField()


class ParticipantFilterForm(forms.Form):
    q = forms.CharField(label="Study ID", required=False)
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Participant.Status.choices], required=False
    )
