"""The trial dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from trials.dashboards.charts import consort_figure, enrollment_figure, visits_figure
from trials.dashboards.queries import dashboard_for
from trials.http import AuthenticatedHttpRequest
from trials.study.models import Trial


@login_required
def trial_dashboard(request: AuthenticatedHttpRequest, trial_code: str) -> HttpResponse:
    trial = get_object_or_404(Trial.objects.visible_to(request.user), code=trial_code)
    dashboard = dashboard_for(trial, request.user)
    return render(
        request,
        "trials/dashboard.html",
        {
            "dashboard": dashboard,
            "consort": consort_figure(dashboard.consort),
            "enrollment": enrollment_figure(dashboard.enrollment),
            "visits": visits_figure(dashboard.week),
        },
    )
