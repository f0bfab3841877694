"""The participant list, registration, the participant's page, identity and audit trail."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from trials.http import AuthenticatedHttpRequest
from trials.participants import services
from trials.participants.forms import ContactEditForm, ContactForm, ParticipantFilterForm
from trials.participants.models import Participant, ParticipantContact
from trials.participants.queries import (
    filtered_participants,
    participant_audit_trail,
    participant_overview,
)
from trials.safety.queries import participant_safety
from trials.study.models import Role, TrialSite
from trials.study.permissions import may_see_identity, require_role

PAGE_SIZE = 50


def _trial_site(request: HttpRequest, trial_code: str, site_code: str) -> TrialSite:
    return get_object_or_404(
        TrialSite.objects.visible_to(request.user).select_related("trial", "site"),
        trial__code=trial_code,
        site__code=site_code,
    )


def _participant(request: HttpRequest, study_id: str) -> Participant:
    return get_object_or_404(
        Participant.objects.visible_to(request.user).select_related("trial", "site"),
        study_id=study_id,
    )


@login_required
def participant_list(request: HttpRequest, trial_code: str, site_code: str) -> HttpResponse:
    trial_site = _trial_site(request, trial_code, site_code)
    filters = ParticipantFilterForm(request.GET)
    wanted = filters.cleaned_data if filters.is_valid() else {}
    participants = filtered_participants(
        Participant.objects.visible_to(request.user).at_site(trial_site),
        study_id=wanted.get("q", ""),
        status=wanted.get("status", ""),
    )
    page = Paginator(participants, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "trials/participant_list.html",
        {"trial_site": trial_site, "page": page, "filters": filters},
    )


@login_required
def participant_create(
    request: AuthenticatedHttpRequest, trial_code: str, site_code: str
) -> HttpResponse:
    trial_site = _trial_site(request, trial_code, site_code)
    require_role(request.user, trial_site, roles=(Role.COORDINATOR,))
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            participant = services.participant_create(
                trial_site=trial_site, contact=form.cleaned_data, by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Candidate {participant.study_id} registered.")
            return redirect("participant_detail", study_id=participant.study_id)
    return render(
        request, "trials/participant_create.html", {"trial_site": trial_site, "form": form}
    )


@login_required
def participant_detail(request: HttpRequest, study_id: str) -> HttpResponse:
    participant = _participant(request, study_id)
    overview = participant_overview(participant, request.user)
    return render(
        request,
        "trials/participant_detail.html",
        {"o": overview, "participant": participant, "safety": participant_safety(participant)},
    )


@login_required
def participant_contact_edit(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    participant = _participant(request, study_id)
    require_role(request.user, participant, roles=(Role.COORDINATOR,))
    contact = get_object_or_404(
        ParticipantContact.objects.visible_to(request.user), participant=participant
    )
    form = ContactEditForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in services.CONTACT_FIELDS}
        try:
            services.participant_contact_update(
                participant=participant,
                changes=changes,
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Contact details updated.")
            return redirect("participant_detail", study_id=participant.study_id)
    return render(request, "trials/contact_edit.html", {"participant": participant, "form": form})


@login_required
def participant_audit(request: HttpRequest, study_id: str) -> HttpResponse:
    participant = _participant(request, study_id)
    entries = participant_audit_trail(
        participant, with_identity=may_see_identity(request.user, participant)
    )
    return render(
        request, "trials/participant_audit.html", {"participant": participant, "entries": entries}
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
def participant_audit_csv(request: HttpRequest, study_id: str) -> StreamingHttpResponse:
    participant = _participant(request, study_id)
    entries = participant_audit_trail(
        participant, with_identity=may_see_identity(request.user, participant)
    )
    writer = csv.writer(_Echo())
    header = [
        "time_utc",
        "user",
        "user_name",
        "record",
        "record_id",
        "action",
        "field",
        "old",
        "new",
        "reason",
    ]
    rows = (
        [
            entry.at.isoformat(),
            entry.username,
            entry.user_name,
            entry.record,
            entry.record_id,
            entry.action,
            field,
            _cell(old),
            _cell(new),
            entry.reason,
        ]
        for entry in entries
        for field, old, new in entry.changes or [("", None, None)]
    )
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in [header, *rows]), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{study_id}-audit.csv"'
    return response


def _cell(value: object) -> str:
    return "" if value is None else str(value)
