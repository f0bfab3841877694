"""Consent, randomization, unblinding, leaving the study: one service call each."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from trials.enrollment import services
from trials.enrollment.forms import ConsentForm, ExitForm, UnblindForm
from trials.enrollment.models import ConsentFormVersion
from trials.forms import add_errors
from trials.http import AuthenticatedHttpRequest
from trials.participants.actions import participant_for_action, saved_and_back
from trials.study.models import SITE_TEAM, Role
from trials.study.queries import site_staff
from trials.study.sitetime import today_at


@login_required
def consent_record(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    participant = participant_for_action(request, study_id, SITE_TEAM)
    form_version = ConsentFormVersion.objects.current_for(
        participant.trial, on=today_at(participant.site.time_zone)
    )
    staff = site_staff(trial=participant.trial, site=participant.site, roles=SITE_TEAM)
    form = ConsentForm(
        request.POST or None,
        time_zone=participant.site.time_zone,
        staff=staff,
        initial={"obtained_by": request.user.pk},
    )
    if request.method == "POST" and form.is_valid():
        if form_version is None:
            form.add_error(None, "The trial has no consent form in effect.")
        else:
            try:
                services.consent_record(
                    participant=participant,
                    form_version=form_version,
                    by=request.user,
                    **form.cleaned_data,
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                return saved_and_back(
                    request, participant, f"Consent to {form_version.label} recorded."
                )
    return render(
        request,
        "trials/consent_form.html",
        {"participant": participant, "form": form, "form_version": form_version},
    )


@login_required
@require_POST
def participant_randomize(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    participant = participant_for_action(request, study_id, SITE_TEAM)
    try:
        slot = services.participant_randomize(participant=participant, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("participant_detail", study_id=study_id)
    return saved_and_back(
        request, participant, f"Randomized: kit {slot.kit_code}. Visits scheduled."
    )


@login_required
def participant_unblind(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    participant = participant_for_action(request, study_id, (Role.INVESTIGATOR,))
    form = UnblindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.participant_unblind(
                participant=participant, investigator=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            return saved_and_back(request, participant, "Unblinded. The sponsor has been notified.")
    return render(request, "trials/unblind_form.html", {"participant": participant, "form": form})


@login_required
def participant_exit(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    participant = participant_for_action(request, study_id, SITE_TEAM)
    form = ExitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.participant_exit(participant=participant, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return saved_and_back(request, participant, "Recorded. All data entered are kept.")
    return render(request, "trials/exit_form.html", {"participant": participant, "form": form})
