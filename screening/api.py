"""The screening API: pre-screen a candidate's data against a trial's protocol, saving nothing."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from screening.eligibility import INVALID, check_eligibility
from screening.serializers import EligibilityRequestSerializer, EligibilityVerdictSerializer
from trials.sponsor_api.http import JSONBodyParser
from trials.study.models import ProtocolVersion, Trial


@api_view(["POST"])
@parser_classes([JSONBodyParser])
def trial_eligibility(request: Request, code: str) -> Response:
    """The verdict on {"data": {field: value}} under the trial's current protocol version."""
    trial = get_object_or_404(Trial.objects.visible_to(request.user), code=code)
    version = ProtocolVersion.objects.current_for(trial)
    if version is None:
        raise NotFound("This trial has no protocol loaded yet.")
    envelope = EligibilityRequestSerializer(data=request.data)
    envelope.is_valid(raise_exception=True)
    verdict = check_eligibility(version, envelope.validated_data["data"])
    if verdict["result"] == INVALID:
        raise ValidationError({"data": verdict["errors"]})
    return Response(EligibilityVerdictSerializer(verdict).data)
