"""Request plumbing shared by every endpoint under /api/v1/ (screening's included): the JSON body
parser, and a service's ValidationError as the API's 400."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    """JSON bodies only; one nested too deeply for Python's parser is a 400 like any bad JSON."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None


def bad_request(error: ValidationError) -> exceptions.ValidationError:
    """A Django ValidationError as the API's 400: errors by field, else under non_field_errors."""
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError({"non_field_errors": error.messages})
