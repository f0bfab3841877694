"""The sponsor export API: the sponsor's trials, and each export resource of a trial.

Only sponsor API keys read it: a logged-in site user is refused with 403 whatever the trial,
so the answer confirms nothing; another sponsor's trial is a 404. Every request made with a
key is logged in ExportRequest, a streamed file when its last row is written.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, cast
from urllib import parse

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from trials.sponsor_api import cursors, exports
from trials.sponsor_api import schema as _schema  # noqa: F401  (registers the key's security scheme)
from trials.sponsor_api.http import bad_request
from trials.sponsor_api.serializers import TrialSerializer, row_serializer
from trials.sponsor_api.streaming import export_request_log, stream_response
from trials.study.models import Trial, TrialSite

if TYPE_CHECKING:
    from trials.sponsor_api.authentication import SponsorClient


class IsSponsorKey(BasePermission):
    message = "Exports are read with a sponsor API key ('Authorization: Api-Key <key>') only."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(getattr(request.user, "is_sponsor_key", False))


class FormatIsAParameter(DefaultContentNegotiation):
    """`?format=` chooses the export format (validated by the view), not a DRF renderer."""

    class settings:  # noqa: N801
        URL_FORMAT_OVERRIDE = None


class ExportCursorPagination(CursorPagination):
    ordering = ("pk",)
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def encode_cursor(self, cursor: Cursor) -> str:
        """DRF's cursor, sealed (sponsor_api/cursors.py): its position is a row's primary key."""
        url = super().encode_cursor(cursor)
        parts = parse.urlsplit(url)
        plain = base64.b64decode(parse.parse_qs(parts.query)[self.cursor_query_param][0]).decode(
            "ascii"
        )
        # Bound to its endpoint: a position means nothing on another resource's rows.
        sealed = cursors.seal(f"{parts.path}\n{plain}")
        return replace_query_param(url, self.cursor_query_param, sealed)

    def decode_cursor(self, request: Request) -> Cursor | None:
        """Only a cursor this server sealed is accepted; anything else is a 400."""
        token = request.query_params.get(self.cursor_query_param)
        if token is None:
            return None
        path, _, plain = (cursors.unseal(token) or "").partition("\n")
        if path != request.path or not _is_cursor(plain):
            raise ValidationError({"cursor": ["Invalid cursor."]})
        tokens = parse.parse_qs(plain, keep_blank_values=True)
        if self.ordering == ("pk",) and not all(p.isdigit() for p in tokens.get("p", [])):
            raise ValidationError({"cursor": ["Invalid cursor."]})
        try:
            offset = min(int(tokens.get("o", ["0"])[0]), self.offset_cutoff)
        except ValueError:
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None
        return Cursor(
            offset=offset,
            reverse=bool(int(tokens.get("r", ["0"])[0])),
            # DRF keeps the position as the query string's text; its stubs say int.
            position=tokens.get("p", [None])[0],  # type: ignore[arg-type]
        )

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {"page_size": [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return super().get_page_size(request)


class TrialCursorPagination(ExportCursorPagination):
    ordering = ("code",)


def _is_cursor(plain: str) -> bool:
    """A query string of DRF's cursor keys (offset, reverse, position)."""
    try:
        tokens = parse.parse_qs(plain, strict_parsing=True)
    except ValueError:
        return False
    return (
        bool(tokens)
        and set(tokens) <= {"o", "r", "p"}
        and all(value.isdigit() for key in "or" for value in tokens.get(key, []))
    )


ERRORS = {
    400: OpenApiResponse(description="A parameter is invalid: errors by parameter name."),
    401: OpenApiResponse(description="No key, or an unknown, revoked or expired key."),
    403: OpenApiResponse(description="Not a sponsor API key (a site user's session)."),
}


class SponsorApiView(generics.ListAPIView):
    permission_classes = [IsSponsorKey]
    content_negotiation_class = FormatIsAParameter


@extend_schema(
    summary="The sponsor's trials",
    responses={200: TrialSerializer(many=True), **ERRORS},
)
class TrialList(SponsorApiView):
    serializer_class = TrialSerializer
    pagination_class = TrialCursorPagination

    def get_queryset(self) -> QuerySet[Trial]:
        sites = TrialSite.objects.select_related("site").order_by("site__code")
        return Trial.objects.visible_to(self.request.user).prefetch_related(
            Prefetch("trial_sites", queryset=sites)
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)


class ExportView(SponsorApiView):
    """One export resource of one trial: JSON pages, or the whole of it as a CSV/NDJSON file."""

    resource = ""
    pagination_class = ExportCursorPagination

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        started_at = timezone.now()
        log = {
            "sponsor": cast("SponsorClient", request.user).sponsor,
            "api_key": request.auth,
            "trial": None,
            "resource": self.resource,
            "fmt": str(request.query_params.get("format") or "json"),
            "query": request.META.get("QUERY_STRING", ""),
            "started_at": started_at,
        }
        try:
            response = self._export(request, kwargs["code"], log)
        except Exception as error:
            status = 404 if isinstance(error, Http404) else getattr(error, "status_code", 500)
            export_request_log(**log, status_code=status, rows=None)
            raise
        return response

    def _export(self, request: Request, code: str, log: dict) -> Any:
        trial = get_object_or_404(
            Trial.objects.visible_to(request.user).select_related("sponsor"), code=code
        )
        log["trial"] = trial
        try:
            params = exports.validate_params(trial=trial, params=request.query_params)
        except DjangoValidationError as error:
            raise bad_request(error) from None
        sponsor = cast("SponsorClient", request.user).sponsor
        if params.format != "json":
            stream = exports.export_stream(
                sponsor=sponsor,
                trial=trial,
                resource=self.resource,
                fmt=params.format,
                params=params,
            )
            filename = f"{trial.code}-{self.resource}.{params.format}"
            return stream_response(
                stream, fmt=params.format, filename=filename, log={**log, "status_code": 200}
            )
        return self._page(request, sponsor, trial, params, log)

    def _page(self, request: Request, sponsor: Any, trial: Trial, params: Any, log: dict) -> Any:
        definition = exports.RESOURCES[self.resource]
        context = exports.export_context(sponsor=sponsor, trial=trial)
        make = exports.row_maker(definition, context)
        sources = [c.source for c in definition.columns] + list(definition.hidden_sources)
        queryset = exports.filtered_queryset(definition, trial, params).values("pk", *sources)
        page = cast(list[dict[str, Any]], self.paginate_queryset(queryset))  # paginated view
        rows = [make(tuple(values[source] for source in sources)) for values in page]
        response = self.get_paginated_response(rows)
        export_request_log(**log, status_code=200, rows=len(rows))
        return response


FORMAT_PARAMETER = OpenApiParameter(
    "format",
    str,
    enum=list(exports.FORMATS),
    description="json: cursor-paginated pages; csv or ndjson: every row, streamed as a file.",
)


def export_view(resource: str) -> Any:
    """The view of one resource, with its schema: parameters, row shape, file types."""
    definition = exports.RESOURCES[resource]
    # Built here, not at import: resources of other apps are registered at app-ready time.
    row = row_serializer(definition)
    parameters = [
        FORMAT_PARAMETER,
        *[
            OpenApiParameter(name, field_type, description=cast(str, field.help_text))
            for name, field, field_type in _filter_parameters()
        ],
    ]
    operation = extend_schema(
        summary=f"Export: {resource}",
        description=f"{definition.description} Main date (date_from/date_to): "
        f"`{definition.date_field}`.",
        parameters=parameters,
        responses={
            (200, "application/json"): row(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            **ERRORS,
            404: OpenApiResponse(description="No trial of this sponsor has this code."),
        },
        operation_id=f"trials_{resource.replace('-', '_')}_list",
    )
    decorate = extend_schema_view(get=operation)
    view_class = cast(
        type[ExportView],
        type(
            f"{row.__name__.removesuffix('Row')}Export",
            (ExportView,),
            {"resource": resource, "serializer_class": row, "__doc__": definition.description},
        ),
    )
    return decorate(view_class).as_view()


def _filter_parameters() -> list[tuple[str, serializers.Field, Any]]:
    fields = exports.ExportParamsSerializer().fields
    types = {
        "updated_since": OpenApiTypes.DATETIME,
        "site": OpenApiTypes.STR,
        "date_from": OpenApiTypes.DATE,
        "date_to": OpenApiTypes.DATE,
    }
    return [(name, fields[name], field_type) for name, field_type in types.items()]
