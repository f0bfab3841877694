"""Export files as streamed responses, and the log of every export request."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone

from trials.sponsor_api.exports import ExportStream
from trials.sponsor_api.models import ExportRequest, SponsorApiKey
from trials.study.models import Sponsor, Trial

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "json": "application/json",
}


def export_request_log(
    *,
    sponsor: Sponsor,
    api_key: SponsorApiKey | None,
    trial: Trial | None,
    resource: str,
    fmt: str,
    query: str,
    status_code: int,
    rows: int | None,
    started_at: datetime.datetime,
) -> ExportRequest:
    """Record one export read by a sponsor's key: what, how many rows, from when to when."""
    return ExportRequest.objects.create(
        sponsor=sponsor,
        api_key=api_key,
        trial=trial,
        resource=resource,
        format=fmt[:10],
        query=query[:1000],
        status_code=status_code,
        rows=rows,
        started_at=started_at,
        finished_at=timezone.now(),
    )


def logged_stream(stream: ExportStream, log: dict) -> Iterator[bytes]:
    """The stream's bytes; when it ends, or the client goes away, the request is logged."""
    status_code = log.get("status_code", 200)
    try:
        yield from stream
    except Exception:
        # The client already has a 200 and part of the file: the log must not say it all went.
        status_code = 500
        logger.exception("Export stream failed after %s rows: %s", stream.rows, log)
        raise
    finally:
        stream.close()
        export_request_log(**{**log, "status_code": status_code}, rows=stream.rows)


def stream_response(
    stream: ExportStream, *, fmt: str, filename: str, log: dict
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(logged_stream(stream, log), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
