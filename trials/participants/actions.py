"""The participant an action page is for, shared by the feature packages' views."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from trials.participants.models import Participant
from trials.study.models import Role
from trials.study.permissions import require_role


def participant_for_action(
    request: HttpRequest, study_id: str, roles: tuple[Role, ...]
) -> Participant:
    """The participant, if visible (404 otherwise) and the user holds one of the roles (403)."""
    participant = get_object_or_404(
        Participant.objects.visible_to(request.user).select_related("trial", "site"),
        study_id=study_id,
    )
    require_role(request.user, participant, roles=roles)
    return participant


def saved_and_back(request: HttpRequest, participant: Participant, message: str) -> HttpResponse:
    """Confirm what was saved and return to the participant's page."""
    messages.success(request, message)
    return redirect("participant_detail", study_id=participant.study_id)
