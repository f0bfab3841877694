"""Screening pages: start, record data with a live verdict, sign, re-evaluate, the log."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from screening import services
from screening.eligibility import check_eligibility, explain
from screening.forms import (
    ApplyVersionForm,
    ConfirmForm,
    ReasonForm,
    ScreeningDataForm,
    ScreeningLogFilterForm,
)
from screening.models import Screening
from screening.services import RECORDERS
from trials.forms import add_errors
from trials.http import AuthenticatedHttpRequest
from trials.participants.models import Participant
from trials.study.models import ProtocolVersion, Role, TrialSite
from trials.study.permissions import has_site_role, require_role

LOG_PAGE_SIZE = 50


def _screening(request: HttpRequest, pk: int) -> Screening:
    return get_object_or_404(
        Screening.objects.visible_to(request.user).select_related(
            "participant__trial",
            "participant__site",
            "protocol_version",
            "confirmation__signer",
        ),
        pk=pk,
    )


def _require(request: HttpRequest, screening: Screening, roles: tuple[Role, ...]) -> None:
    participant = screening.participant
    require_role(request.user, participant, roles=roles)


def _fields(screening: Screening) -> list[dict]:
    return screening.protocol_version.content["screening"]["fields"]


@login_required
@require_POST
def screening_start(request: AuthenticatedHttpRequest, study_id: str) -> HttpResponse:
    participant = get_object_or_404(Participant.objects.visible_to(request.user), study_id=study_id)
    require_role(request.user, participant, roles=(Role.COORDINATOR,))
    try:
        screening = services.screening_start(participant=participant, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("participant_detail", study_id=study_id)
    return redirect("screening_detail", pk=screening.pk)


@login_required
def screening_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    screening = _screening(request, pk)
    form = ScreeningDataForm(_fields(screening), screening.data, request.POST or None)
    reason_form = ReasonForm(request.POST or None)
    if request.method == "POST":
        _require(request, screening, RECORDERS)
        if form.is_valid() and reason_form.is_valid():
            try:
                services.screening_record(
                    screening=screening,
                    values=form.values(),
                    by=request.user,
                    reason=reason_form.cleaned_data["reason"],
                )
            except ValidationError as error:
                add_errors(form, error, reason_form=reason_form)
            else:
                messages.success(request, "Screening data saved.")
                return redirect("screening_detail", pk=pk)
    return render(
        request, "screening/detail.html", _detail_context(request, screening, form, reason_form)
    )


def _detail_context(
    request: HttpRequest, screening: Screening, form: ScreeningDataForm, reason_form: ReasonForm
) -> dict[str, Any]:
    participant = screening.participant
    current = ProtocolVersion.objects.current_for(participant.trial)
    evaluations = screening.evaluations.select_related("protocol_version", "evaluated_by")[:20]
    scope = {"trial_id": participant.trial_id, "site_id": participant.site_id}
    return {
        "screening": screening,
        "participant": participant,
        "form": form,
        "reason_form": reason_form,
        "verdict": explain(
            screening.protocol_version,
            {
                "result": screening.result,
                "failed": screening.failed,
                "missing": screening.missing,
                "missing_fields": screening.missing_fields,
            },
        ),
        "evaluations": evaluations,
        "newer_version": current
        if current and current.pk != screening.protocol_version_id
        else None,
        "can_record": has_site_role(request.user, roles=RECORDERS, **scope),
        "can_sign": has_site_role(request.user, roles=(Role.INVESTIGATOR,), **scope),
        "confirm_form": ConfirmForm(),
        "apply_form": ApplyVersionForm(),
    }


@login_required
@require_POST
def screening_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The verdict the typed values would give, without saving anything (HTMX)."""
    screening = _screening(request, pk)
    form = ScreeningDataForm(_fields(screening), screening.data, request.POST)
    if not form.is_valid():
        verdict = {"result": "invalid", "errors": form.errors}
    else:
        data = {k: v for k, v in {**screening.data, **form.values()}.items() if v is not None}
        verdict = check_eligibility(screening.protocol_version, data)
    return render(
        request,
        "screening/_verdict.html",
        {"verdict": explain(screening.protocol_version, verdict), "preview": True},
    )


@login_required
@require_POST
def screening_confirm(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    screening = _screening(request, pk)
    _require(request, screening, (Role.INVESTIGATOR,))
    form = ConfirmForm(request.POST)
    if form.is_valid():
        try:
            services.screening_confirm(
                screening=screening,
                investigator=request.user,
                password=form.cleaned_data["password"],
                statement=form.cleaned_data["statement"],
            )
        except ValidationError as error:
            form.add_error(None, error) if not hasattr(error, "error_dict") else [
                form.add_error(name, msgs) for name, msgs in error.message_dict.items()
            ]
        else:
            messages.success(request, "Verdict signed.")
            return redirect("screening_detail", pk=pk)
    context = _detail_context(
        request, screening, ScreeningDataForm(_fields(screening), screening.data), ReasonForm()
    )
    context["confirm_form"] = form
    return render(request, "screening/detail.html", context, status=400)


@login_required
@require_POST
def screening_apply_version(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    screening = _screening(request, pk)
    _require(request, screening, RECORDERS)
    form = ApplyVersionForm(request.POST)
    current = ProtocolVersion.objects.current_for(screening.participant.trial)
    if form.is_valid() and current is not None:
        try:
            services.screening_apply_version(
                screening=screening,
                version=current,
                by=request.user,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            messages.error(
                request,
                "; ".join(
                    f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
                    for k, v in _dict(error).items()
                ),
            )
        else:
            messages.success(request, f"Re-evaluated under version {current.number}.")
    else:
        messages.error(request, "Give the reason for re-evaluating.")
    return redirect("screening_detail", pk=pk)


def _dict(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}


@login_required
def screening_log(request: HttpRequest, trial_code: str, site_code: str) -> HttpResponse:
    trial_site = get_object_or_404(
        TrialSite.objects.visible_to(request.user).select_related("trial", "site"),
        trial__code=trial_code,
        site__code=site_code,
    )
    screenings = Screening.objects.visible_to(request.user).at_site(trial_site)
    filters = ScreeningLogFilterForm(request.GET)
    if filters.is_valid():
        if filters.cleaned_data["q"]:
            screenings = screenings.filter(
                participant__study_id__icontains=filters.cleaned_data["q"]
            )
        if filters.cleaned_data["result"]:
            screenings = screenings.filter(result=filters.cleaned_data["result"])
        if filters.cleaned_data["criterion"]:
            screenings = screenings.filter(failed__contains=[filters.cleaned_data["criterion"]])
    current = ProtocolVersion.objects.current_for(trial_site.trial)
    texts = (
        {c["id"]: c["text"] for c in current.content["screening"]["criteria"]} if current else {}
    )
    failures = [
        (cid, texts.get(cid, ""), n)
        for cid, n in Screening.objects.visible_to(request.user)
        .at_site(trial_site)
        .failure_counts()
    ]
    page = Paginator(screenings.for_log(), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "screening/log.html",
        {
            "trial_site": trial_site,
            "page": page,
            "filters": filters,
            "failures": failures,
            "texts": texts,
            "current": current,
            "can_apply": has_site_role(
                request.user,
                trial_id=trial_site.trial_id,
                site_id=trial_site.site_id,
                roles=RECORDERS,
            ),
        },
    )


@login_required
@require_POST
def screenings_apply_current_version(
    request: AuthenticatedHttpRequest, trial_code: str, site_code: str
) -> HttpResponse:
    trial_site = get_object_or_404(
        TrialSite.objects.visible_to(request.user), trial__code=trial_code, site__code=site_code
    )
    require_role(request.user, trial_site, roles=RECORDERS)
    form = ApplyVersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the reason for re-evaluating.")
    else:
        try:
            moved, refused = services.screenings_apply_current_version(
                trial_site=trial_site, by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{len(moved)} open screening(s) re-evaluated.")
            for study_id, errors in refused.items():
                messages.warning(
                    request,
                    f"{study_id} kept its version: "
                    + "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()),
                )
    return redirect("screening_log", trial_code=trial_code, site_code=site_code)
