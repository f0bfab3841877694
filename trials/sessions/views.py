"""Booking visits, the dosing session log and therapy sessions: one service call per action."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render

from trials.facilitators.models import Facilitator
from trials.forms import add_errors
from trials.http import AuthenticatedHttpRequest
from trials.notifications.queries import notifications_context
from trials.participants.actions import participant_for_action, saved_and_back
from trials.participants.models import Participant
from trials.sessions import services
from trials.sessions.forms import (
    DayForm,
    DoseForm,
    NotGivenForm,
    OverrideForm,
    PredoseForm,
    SignForm,
    SupplementForm,
    TherapySessionForm,
    VisitBookForm,
    VitalSignForm,
)
from trials.sessions.models import (
    DosingSession,
    TherapySession,
    Visit,
)
from trials.sessions.queries import dosing_log
from trials.study.models import CARE_TEAM, SITE_TEAM
from trials.study.permissions import require_role, roles_at


@login_required
def visit_book(request: AuthenticatedHttpRequest, study_id: str, event_code: str) -> HttpResponse:
    participant = participant_for_action(request, study_id, SITE_TEAM)
    visit = get_object_or_404(Visit.objects.filter(participant=participant), event_code=event_code)
    facilitators = Facilitator.objects.at_site(
        trial_id=participant.trial_id, site_id=participant.site_id
    )
    initial = {"room": visit.room, "facilitators": list(visit.facilitators.all())}
    form = VisitBookForm(
        request.POST or None,
        time_zone=participant.site.time_zone,
        facilitators=facilitators,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.visit_book(visit=visit, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return saved_and_back(request, participant, f"{visit.label} booked.")
    return render(
        request,
        "trials/visit_form.html",
        {
            "participant": participant,
            "visit": visit,
            "form": form,
            **notifications_context(request.user, visit),
        },
    )


def _visit(request: HttpRequest, study_id: str, event_code: str) -> Visit:
    participant = get_object_or_404(
        Participant.objects.visible_to(request.user).select_related("trial", "site"),
        study_id=study_id,
    )
    return get_object_or_404(
        Visit.objects.select_related("protocol_version").filter(participant=participant),
        event_code=event_code,
    )


def _forms(request: HttpRequest, visit: Visit, session: DosingSession | None) -> dict:
    """Every form of the page, bound to the POST only for the action that was sent."""
    tz = visit.participant.site.time_zone
    limits = visit.protocol_version.content["trial"]["dosing_safety"]
    action = request.POST.get("action") if request.method == "POST" else None

    def data(name: str) -> QueryDict | None:
        return request.POST if action == name else None

    return {
        "predose": PredoseForm(data("predose"), instance=session, time_zone=tz, limits=limits),
        "day": DayForm(data("day"), instance=session, time_zone=tz, limits=limits),
        "dose": DoseForm(data("dose"), time_zone=tz),
        "supplement": SupplementForm(data("supplement"), time_zone=tz),
        "not_given": NotGivenForm(data("not_given")),
        "vital": VitalSignForm(data("vital"), time_zone=tz, limits=limits),
        "override": OverrideForm(data("override")),
        "sign": SignForm(data("sign")),
    }


def _apply(action: str, form: Any, session: DosingSession, user: User) -> None:
    """Call the service behind one action with the form's cleaned data."""
    data = form.cleaned_data
    calls: dict[str, Callable[[], object]] = {
        "predose": lambda: services.dosing_session_update(
            session=session, values=form.values(), reason=data["reason"], by=user
        ),
        "day": lambda: services.dosing_session_update(
            session=session, values=form.values(), reason=data["reason"], by=user
        ),
        "dose": lambda: services.dosing_session_give_dose(session=session, by=user, **data),
        "supplement": lambda: services.dosing_session_supplement(
            session=session,
            dosed_at=data["supplement_at"],
            lot_number=data["supplement_lot_number"],
            by=user,
        ),
        "not_given": lambda: services.dosing_session_not_given(
            session=session, reason=data["not_given_reason"], by=user
        ),
        "vital": lambda: services.vital_sign_add(
            session=session, values=form.values(), reason=data["reason"], by=user
        ),
        "override": lambda: services.dosing_session_override_vitals(
            session=session,
            investigator=user,
            password=data["override_password"],
            reason=data["override_reason"],
        ),
        "sign": lambda: services.dosing_session_sign(
            session=session, signer=user, password=data["sign_password"]
        ),
    }
    calls[action]()


@login_required
def dosing_session(
    request: AuthenticatedHttpRequest, study_id: str, event_code: str
) -> HttpResponse:
    visit = _visit(request, study_id, event_code)
    if visit.kind != Visit.Kind.DOSING:
        return redirect("therapy_session", study_id=study_id, event_code=event_code)
    session = DosingSession.objects.filter(visit=visit).first()
    forms = _forms(request, visit, session)
    if request.method == "POST":
        participant = visit.participant
        require_role(request.user, participant, roles=CARE_TEAM)
        action = request.POST.get("action", "")
        try:
            if action == "start":
                services.dosing_session_start(visit=visit, by=request.user)
                return redirect(request.path)
            form = forms.get(action)
            if session is not None and form is not None and form.is_valid():
                _apply(action, form, session, request.user)
                messages.success(request, "Saved.")
                return redirect(request.path)
        except ValidationError as error:
            if action == "start":
                messages.error(request, " ".join(error.messages))
                return redirect(request.path)
            add_errors(forms[action], error)
    return render(
        request, "trials/dosing_session.html", _dosing_context(request, visit, session, forms)
    )


def _dosing_context(
    request: HttpRequest, visit: Visit, session: DosingSession | None, forms: dict[str, Any]
) -> dict:
    participant = visit.participant
    return {
        "participant": participant,
        "visit": visit,
        "session": session,
        "forms": forms,
        "roles": roles_at(request.user, trial_id=participant.trial_id, site_id=participant.site_id),
        **notifications_context(request.user, visit),
        **dosing_log(visit, session),
    }


@login_required
def therapy_session(
    request: AuthenticatedHttpRequest, study_id: str, event_code: str
) -> HttpResponse:
    visit = _visit(request, study_id, event_code)
    participant = visit.participant
    facilitators = Facilitator.objects.at_site(
        trial_id=participant.trial_id, site_id=participant.site_id
    )
    logged = TherapySession.objects.filter(visit=visit).select_related("facilitator__user").first()
    form = TherapySessionForm(
        request.POST or None, time_zone=participant.site.time_zone, facilitators=facilitators
    )
    if request.method == "POST":
        require_role(request.user, participant, roles=CARE_TEAM)
        if form.is_valid():
            try:
                services.therapy_session_record(visit=visit, values=form.values(), by=request.user)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"{visit.label} recorded.")
                return redirect("participant_detail", study_id=study_id)
    return render(
        request,
        "trials/therapy_session.html",
        {
            "participant": participant,
            "visit": visit,
            "form": form,
            "logged": logged,
            **notifications_context(request.user, visit),
        },
    )
