"""The facilitator's own pages and calendar feed; a facilitator's credentials for the site team."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from trials.facilitators import services as facilitator_services
from trials.facilitators.models import Facilitator
from trials.facilitators.queries import (
    facilitator_credentials,
    facilitator_of,
    sessions_calendar,
    upcoming_sessions,
)
from trials.http import AuthenticatedHttpRequest


@login_required
def facilitator_home(request: HttpRequest) -> HttpResponse:
    facilitator = facilitator_of(request.user)
    if facilitator is None:
        return render(request, "trials/facilitator_home.html", {"facilitator": None})
    feed_url = ""
    if facilitator.calendar_token:
        feed_url = request.build_absolute_uri(
            reverse("facilitator_calendar", args=[facilitator.calendar_token])
        )
    sessions = upcoming_sessions(facilitator, now=timezone.now())
    return render(
        request,
        "trials/facilitator_home.html",
        {"facilitator": facilitator, "sessions": sessions, "feed_url": feed_url},
    )


# No login: calendar apps subscribe with the secret token in the URL, and nothing else.
@require_safe
@never_cache
def facilitator_calendar(request: HttpRequest, token: str) -> HttpResponse:
    facilitator = get_object_or_404(
        Facilitator.objects.select_related("user"), calendar_token=token, user__is_active=True
    )
    calendar = sessions_calendar(facilitator, now=timezone.now())
    return HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")


@login_required
@require_POST
def facilitator_calendar_reset(request: AuthenticatedHttpRequest) -> HttpResponse:
    facilitator = facilitator_of(request.user)
    if facilitator is None:
        raise Http404("You have no facilitator record.")
    replaced = bool(facilitator.calendar_token)
    facilitator_services.facilitator_calendar_reset(facilitator=facilitator, by=request.user)
    if replaced:
        messages.success(request, "New calendar link created. The old link no longer works.")
    else:
        messages.success(request, "Calendar link created. Add it to your calendar app.")
    return redirect("facilitator_home")


@login_required
def facilitator_detail(request: HttpRequest, pk: int) -> HttpResponse:
    facilitator = get_object_or_404(
        Facilitator.objects.visible_to(request.user).select_related("user"), pk=pk
    )
    summary = facilitator_credentials(facilitator, viewer=request.user, on=timezone.localdate())
    return render(
        request,
        "trials/facilitator_detail.html",
        {
            "facilitator": facilitator,
            "summary": summary,
            "is_self": facilitator.user_id == request.user.pk,
        },
    )
