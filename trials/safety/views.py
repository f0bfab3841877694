"""Assessments, risk screens and adverse events: one form, one service call each."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render

from trials.forms import add_errors
from trials.http import AuthenticatedHttpRequest
from trials.participants.actions import participant_for_action, saved_and_back
from trials.participants.models import Participant
from trials.safety import services
from trials.safety.forms import (
    AdverseEventCorrectionForm,
    AdverseEventForm,
    AssessmentForm,
    ReviewForm,
    RiskScreenForm,
)
from trials.safety.models import AdverseEvent
from trials.safety.queries import Instrument, event_instruments
from trials.safety.services import AE_FIELDS, RECORDERS
from trials.sessions.models import DosingSession, Visit
from trials.study.models import Role
from trials.study.permissions import require_role, roles_at

ACTIVE_IDEATION_MESSAGE = (
    "Active suicidal ideation: the site's investigators have been e-mailed. "
    "Follow the site's safety plan now."
)


def _visit(participant: Participant, event_code: str) -> tuple[Visit, list[Instrument]]:
    visit = get_object_or_404(
        participant.visits.select_related("protocol_version"), event_code=event_code
    )
    instruments = event_instruments(visit.protocol_version.content, visit.event_code)
    if not instruments:
        raise Http404("No rating scale is collected at this visit.")
    return visit, instruments


@login_required
def assessment_record(
    request: AuthenticatedHttpRequest, study_id: str, event_code: str
) -> HttpResponse:
    participant = participant_for_action(request, study_id, RECORDERS)
    visit, instruments = _visit(participant, event_code)
    form = AssessmentForm(
        request.POST or None, instruments=instruments, time_zone=participant.site.time_zone
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.assessment_record(visit=visit, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return saved_and_back(
                request, participant, f"{form.cleaned_data['instrument']} recorded."
            )
    recorded = visit.assessments.order_by("instrument")
    context = {"participant": participant, "visit": visit, "form": form, "recorded": recorded}
    return render(request, "trials/assessment_form.html", context)


@login_required
def risk_screen_record(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    participant = participant_for_action(request, study_id, RECORDERS)
    form = RiskScreenForm(
        request.POST or None,
        visits=participant.visits.exclude(status=Visit.Status.AWAITING_DOSING),
        time_zone=participant.site.time_zone,
    )
    if request.method == "POST" and form.is_valid():
        try:
            screen = services.risk_screen_record(
                participant=participant,
                visit=form.cleaned_data["visit"],
                answers=form.answers(),
                assessed_at=form.cleaned_data["assessed_at"],
                by=request.user,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            if screen.active_ideation:
                messages.warning(request, ACTIVE_IDEATION_MESSAGE)
            return saved_and_back(request, participant, "C-SSRS screen recorded.")
    return render(
        request, "trials/risk_screen_form.html", {"participant": participant, "form": form}
    )


def _sessions(participant: Participant) -> QuerySet[DosingSession]:
    return DosingSession.objects.filter(participant=participant).select_related("visit")


@login_required
def adverse_event_report(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    participant = participant_for_action(request, study_id, RECORDERS)
    form = AdverseEventForm(
        request.POST or None,
        time_zone=participant.site.time_zone,
        sessions=_sessions(participant),
        # Reported from a dosing session's page: linked to it unless changed.
        initial={"dosing_session": request.GET.get("dosing_session")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            event = services.adverse_event_report(
                participant=participant, values=form.values(), by=request.user
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _event_done(request, event, "Adverse event reported.")
    return render(
        request, "trials/adverse_event_form.html", {"participant": participant, "form": form}
    )


def _event_done(request: HttpRequest, event: AdverseEvent, message: str) -> HttpResponse:
    if event.is_serious:
        message += " Serious: expedited reporting to the sponsor applies."
    messages.success(request, message)
    return redirect("adverse_event_detail", pk=event.pk)


@login_required
def adverse_event_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(
        AdverseEvent.objects.visible_to(request.user).select_related(
            "participant__trial", "participant__site", "review_signature", "dosing_session__visit"
        ),
        pk=pk,
    )
    if request.method != "POST":
        return _detail(request, event)
    participant = event.participant
    require_role(request.user, participant, roles=RECORDERS)
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        return HttpResponseBadRequest("Unknown action.")
    return action(request, event)


def _correction_form(event: AdverseEvent, data: QueryDict | None) -> AdverseEventCorrectionForm:
    return AdverseEventCorrectionForm(
        data,
        initial=model_to_dict(event, fields=AE_FIELDS),
        time_zone=event.participant.site.time_zone,
        sessions=_sessions(event.participant),
    )


def _correct(request: AuthenticatedHttpRequest, event: AdverseEvent) -> HttpResponse:
    form = _correction_form(event, request.POST)
    if form.is_valid():
        try:
            event = services.adverse_event_update(
                event=event,
                values=form.values(),
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            return _event_done(request, event, "Adverse event corrected: it awaits a new review.")
    return _detail(request, event, correction=form)


def _review(request: AuthenticatedHttpRequest, event: AdverseEvent) -> HttpResponse:
    participant = event.participant
    require_role(request.user, participant, roles=(Role.INVESTIGATOR,))
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.adverse_event_review(
                event=event, investigator=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Adverse event reviewed and signed.")
            return redirect("adverse_event_detail", pk=event.pk)
    return _detail(request, event, review=form)


ACTIONS = {"correct": _correct, "review": _review}


def _detail(
    request: HttpRequest,
    event: AdverseEvent,
    *,
    correction: AdverseEventCorrectionForm | None = None,
    review: ReviewForm | None = None,
) -> HttpResponse:
    participant = event.participant
    roles = roles_at(request.user, trial_id=participant.trial_id, site_id=participant.site_id)
    if correction is None and roles & set(RECORDERS):
        correction = _correction_form(event, None)
    if review is None and Role.INVESTIGATOR in roles and event.review_signature_id is None:
        review = ReviewForm()
    context = {
        "participant": participant,
        "event": event,
        "correction": correction,
        "review": review,
    }
    return render(request, "trials/adverse_event_detail.html", context)
