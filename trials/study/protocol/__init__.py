"""The protocol file, format 1: parse (text to document), validate (document to normalized
protocol, every error by place) and canonical form (deterministic JSON and content hash).

Pure Python on purpose (no Django): the management command, the upload form and the admin all go
through :func:`load_protocol_text`, and the unit tests need no database.
"""

from typing import Any

from trials.study.protocol.canonical import canonical_json, content_hash
from trials.study.protocol.parse import ProtocolError, parse_protocol
from trials.study.protocol.validate import FORMAT_VERSION, validate_protocol

__all__ = [
    "FORMAT_VERSION",
    "ProtocolError",
    "canonical_json",
    "content_hash",
    "load_protocol_text",
    "parse_protocol",
    "validate_protocol",
]


def load_protocol_text(content: str | bytes, *, filename: str = "") -> dict[str, Any]:
    """Parse and validate a protocol file's text; return the normalized protocol."""
    return validate_protocol(parse_protocol(content, filename=filename))
