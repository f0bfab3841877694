"""The canonical form of a normalized protocol: deterministic JSON and its content hash."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from typing import Any


def _json_default(value: object) -> object:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot serialize a value of type {type(value).__name__}")


def canonical_json(protocol: Mapping[str, Any]) -> str:
    """Deterministic JSON for a (normalized) protocol: sorted keys, compact, dates as ISO strings.

    Pass the output of validate_protocol: defaults are then spelled out, so a file that leaves a
    default implicit and one that states it give the same text.
    """
    return json.dumps(
        protocol,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def content_hash(protocol: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of canonical_json(protocol): equal content, equal hash."""
    return hashlib.sha256(canonical_json(protocol).encode("utf-8")).hexdigest()
