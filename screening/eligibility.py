"""Eligibility: one candidate's screening data against a protocol version's fields and criteria."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from screening import rules

if TYPE_CHECKING:
    from trials.study.models import ProtocolVersion

INVALID = "invalid"
MAX_CACHED_EVALUATORS = 128

# Compiling criteria costs more than evaluating them: keep one evaluator per protocol content.
_evaluators: dict[str, rules.Evaluator] = {}


def evaluator_for(version: ProtocolVersion) -> rules.Evaluator:
    """The compiled criteria of a protocol version (cached by content hash)."""
    evaluator = _evaluators.get(version.content_hash)
    if evaluator is None:
        if len(_evaluators) >= MAX_CACHED_EVALUATORS:
            _evaluators.clear()
        evaluator = rules.compile_criteria(version.content["screening"]["criteria"])
        _evaluators[version.content_hash] = evaluator
    return evaluator


def check_eligibility(version: ProtocolVersion, data: Mapping[str, object]) -> dict[str, Any]:
    """The verdict for one candidate's data, or the errors by field that prevent one.

    Returns {"result", "failed", "missing", "missing_fields", "protocol_version"}, or
    {"result": "invalid", "errors": {field: [message]}, "protocol_version"}.
    """
    clean, errors = rules.clean_values(version.content["screening"]["fields"], data)
    if errors:
        return {"result": INVALID, "errors": errors, "protocol_version": version.number}
    return {**evaluator_for(version)(clean).as_dict(), "protocol_version": version.number}


def explain(version: ProtocolVersion, verdict: Mapping[str, Any]) -> dict[str, Any]:
    """A verdict in the protocol's words: failing and unknown criteria, missing fields."""
    content = version.content["screening"]
    criteria = {criterion["id"]: criterion for criterion in content["criteria"]}
    labels = {field["name"]: field["label"] for field in content["fields"]}
    return {
        "result": verdict["result"],
        "failed": [criteria[id_] for id_ in verdict.get("failed", []) if id_ in criteria],
        "missing": [criteria[id_] for id_ in verdict.get("missing", []) if id_ in criteria],
        "missing_fields": [labels.get(name, name) for name in verdict.get("missing_fields", [])],
        "errors": verdict.get("errors", {}),
        "protocol_version": version.number,
    }
