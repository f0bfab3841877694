"""Tests for screening.rules: static validation, value cleaning, three-valued evaluation."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.rules import (
    COMPARISON_OPERATORS,
    ELIGIBLE,
    FIELD_TYPES,
    INCOMPLETE,
    INELIGIBLE,
    TEST_OPERATORS,
    Verdict,
    clean_values,
    compile_criteria,
    evaluate,
    evaluate_rule,
    rule_errors,
    value_errors,
)

PROTOCOLS = Path(__file__).resolve().parents[2] / "trials" / "protocols"
if not PROTOCOLS.is_dir():
    # Until the protocol files are copied into the project, read the shared originals.
    PROTOCOLS = Path("/work/shared/protocols")

PLACE = "screening.criteria[3].rule"
DATE = datetime.date

FIELDS: list[dict[str, Any]] = [
    {"name": "age_years", "type": "integer", "label": "Age", "min": 0, "max": 120},
    {"name": "bmi", "type": "decimal", "label": "BMI", "min": 10, "max": 60.5},
    {"name": "consented", "type": "boolean", "label": "Consented"},
    {"name": "screened_on", "type": "date", "label": "Screening date"},
    {
        "name": "smoker",
        "type": "choice",
        "label": "Smoker",
        "choices": ["never", "former", "current"],
    },
    {"name": "notes", "type": "text", "label": "Notes"},
]
FIELDS_BY_NAME = {field["name"]: field for field in FIELDS}


def load_protocol(file_name: str) -> dict[str, Any]:
    """Read one example protocol file."""
    return yaml.safe_load((PROTOCOLS / file_name).read_text(encoding="utf-8"))


def truth_data(**truths: bool | None) -> dict[str, object]:
    """Data for boolean test fields; None leaves the field out, so its rules are unknown."""
    return {name: truth for name, truth in truths.items() if truth is not None}


def is_true(name: str) -> dict[str, str]:
    """A test rule on a boolean field."""
    return {"field": name, "op": "is_true"}


def criterion(identifier: str, kind: str, rule: Mapping[str, Any]) -> dict[str, Any]:
    """A criterion as written in a protocol file."""
    return {"id": identifier, "kind": kind, "text": identifier, "rule": rule}


# Interface --------------------------------------------------------------------------------------


def test_public_constants_match_the_spec() -> None:
    assert FIELD_TYPES == ("integer", "decimal", "boolean", "date", "choice", "text")
    assert COMPARISON_OPERATORS == (
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "between",
        "in",
        "not_in",
    )
    assert TEST_OPERATORS == ("is_true", "is_false")
    assert (ELIGIBLE, INELIGIBLE, INCOMPLETE) == ("eligible", "ineligible", "incomplete")


def test_verdict_is_frozen_and_serialises_to_lists() -> None:
    verdict = Verdict(INCOMPLETE, (), ("I1", "E2"), ("age_years",))
    assert verdict.as_dict() == {
        "result": "incomplete",
        "failed": [],
        "missing": ["I1", "E2"],
        "missing_fields": ["age_years"],
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.result = ELIGIBLE  # type: ignore[misc]  # assigning a frozen field is the test


# Operators over every type ----------------------------------------------------------------------

OPERATOR_CASES = [
    ("age_years", "eq", 18, 18, True),
    ("age_years", "eq", 18, 19, False),
    ("age_years", "ne", 18, 18, False),
    ("age_years", "ne", 18, 19, True),
    ("age_years", "lt", 18, 17, True),
    ("age_years", "lt", 18, 18, False),
    ("age_years", "le", 18, 18, True),
    ("age_years", "le", 18, 19, False),
    ("age_years", "gt", 18, 19, True),
    ("age_years", "gt", 18, 18, False),
    ("age_years", "ge", 18, 18, True),
    ("age_years", "ge", 18, 17, False),
    ("age_years", "between", [18, 65], 18, True),
    ("age_years", "between", [18, 65], 65, True),
    ("age_years", "between", [18, 65], 17, False),
    ("age_years", "between", [18, 65], 66, False),
    ("age_years", "in", [1, 2], 2, True),
    ("age_years", "in", [1, 2], 3, False),
    ("age_years", "not_in", [1, 2], 2, False),
    ("age_years", "not_in", [1, 2], 3, True),
    ("bmi", "eq", 22.5, Decimal("22.5"), True),
    ("bmi", "eq", 10.1, Decimal("10.1"), True),
    ("bmi", "ne", 10.1, Decimal("10.1"), False),
    ("bmi", "ne", 10.1, Decimal("10.2"), True),
    ("bmi", "lt", 25, Decimal("24.9"), True),
    ("bmi", "lt", 25, Decimal("25"), False),
    ("bmi", "le", Decimal("25.0"), Decimal("25"), True),
    ("bmi", "le", 25.1, Decimal("25.2"), False),
    ("bmi", "gt", 18.5, Decimal("18.5"), False),
    ("bmi", "gt", 18.5, Decimal("18.6"), True),
    ("bmi", "ge", 18.5, Decimal("18.5"), True),
    ("bmi", "ge", 18.5, Decimal("18.4"), False),
    ("bmi", "between", [18.5, 24.9], Decimal("18.5"), True),
    ("bmi", "between", [18.5, 24.9], Decimal("24.9"), True),
    ("bmi", "between", [18.5, 24.9], Decimal("24.91"), False),
    ("bmi", "in", [20, 22.5], Decimal("22.5"), True),
    ("bmi", "in", [20, 22.5], Decimal("21"), False),
    ("bmi", "not_in", [20, 22.5], Decimal("20.0"), False),
    ("bmi", "not_in", [20, 22.5], Decimal("21"), True),
    ("consented", "is_true", None, True, True),
    ("consented", "is_true", None, False, False),
    ("consented", "is_false", None, False, True),
    ("consented", "is_false", None, True, False),
    ("consented", "eq", True, True, True),
    ("consented", "eq", True, False, False),
    ("consented", "ne", True, False, True),
    ("consented", "ne", False, False, False),
    ("screened_on", "eq", "2024-03-01", DATE(2024, 3, 1), True),
    ("screened_on", "eq", "2024-03-01", DATE(2024, 3, 2), False),
    ("screened_on", "ne", "2024-03-01", DATE(2024, 3, 1), False),
    ("screened_on", "ne", DATE(2024, 3, 1), DATE(2024, 3, 2), True),
    ("screened_on", "lt", "2024-03-01", DATE(2024, 2, 29), True),
    ("screened_on", "lt", "2024-03-01", DATE(2024, 3, 1), False),
    ("screened_on", "le", DATE(2024, 3, 1), DATE(2024, 3, 1), True),
    ("screened_on", "le", "2024-03-01", DATE(2024, 3, 2), False),
    ("screened_on", "gt", "2024-03-01", DATE(2024, 3, 2), True),
    ("screened_on", "gt", "2024-03-01", DATE(2024, 3, 1), False),
    ("screened_on", "ge", "2024-03-01", DATE(2024, 3, 1), True),
    ("screened_on", "ge", "2024-03-01", DATE(2024, 2, 29), False),
    ("screened_on", "between", ["2024-01-01", "2024-12-31"], DATE(2024, 12, 31), True),
    ("screened_on", "between", ["2024-01-01", "2024-12-31"], DATE(2024, 1, 1), True),
    ("screened_on", "between", ["2024-01-01", "2024-12-31"], DATE(2025, 1, 1), False),
    ("smoker", "eq", "never", "never", True),
    ("smoker", "eq", "never", "current", False),
    ("smoker", "ne", "never", "current", True),
    ("smoker", "ne", "never", "never", False),
    ("smoker", "in", ["former", "current"], "former", True),
    ("smoker", "in", ["former", "current"], "never", False),
    ("smoker", "not_in", ["former", "current"], "never", True),
    ("smoker", "not_in", ["former", "current"], "current", False),
    ("notes", "eq", "ok", "ok", True),
    ("notes", "eq", "ok", "OK", False),
    ("notes", "eq", "2024-03-01", "2024-03-01", True),
    ("notes", "ne", "2024-03-01", "2024-03-01", False),
    ("notes", "ne", "ok", "ok", False),
    ("notes", "in", ["a", "b"], "b", True),
    ("notes", "not_in", ["a", "b"], "b", False),
    ("notes", "not_in", ["a", "b"], "c", True),
]


def comparison(name: str, operator: str, value: object) -> dict[str, object]:
    """A comparison rule, or a test rule when there is no value."""
    rule: dict[str, object] = {"field": name, "op": operator}
    if operator not in TEST_OPERATORS:
        rule["value"] = value
    return rule


def operator_case_id(case: tuple[Any, ...]) -> str:
    """Readable id for one row of OPERATOR_CASES."""
    name, operator, value, found, expected = case
    return f"{FIELDS_BY_NAME[name]['type']}-{operator}-{value}-on-{found}-is-{expected}"


@pytest.mark.parametrize("case", OPERATOR_CASES, ids=[operator_case_id(c) for c in OPERATOR_CASES])
def test_operator_on_a_known_value(case: tuple[Any, ...]) -> None:
    name, operator, value, found, expected = case
    rule = comparison(name, operator, value)
    assert rule_errors(rule, FIELDS_BY_NAME, PLACE) == []
    assert evaluate_rule(rule, {name: found}) is expected


@pytest.mark.parametrize("case", OPERATOR_CASES, ids=[operator_case_id(c) for c in OPERATOR_CASES])
@pytest.mark.parametrize("data", [{}, {"other": 1}], ids=["absent", "other-field-only"])
def test_operator_on_an_absent_value_is_unknown(
    case: tuple[Any, ...], data: dict[str, object]
) -> None:
    name, operator, value, _, _ = case
    assert evaluate_rule(comparison(name, operator, value), data) is None
    assert evaluate_rule(comparison(name, operator, value), {**data, name: None}) is None


def test_operator_table_covers_every_operator_and_type() -> None:
    operators = {operator for _, operator, _, _, _ in OPERATOR_CASES}
    types = {FIELDS_BY_NAME[name]["type"] for name, _, _, _, _ in OPERATOR_CASES}
    assert operators == set(COMPARISON_OPERATORS) | set(TEST_OPERATORS)
    assert types == set(FIELD_TYPES)


# Three-valued logic -----------------------------------------------------------------------------

T, F, U = True, False, None
ALL_TABLE = [
    (T, T, T),
    (T, F, F),
    (T, U, U),
    (F, T, F),
    (F, F, F),
    (F, U, F),
    (U, T, U),
    (U, F, F),
    (U, U, U),
]
ANY_TABLE = [
    (T, T, T),
    (T, F, T),
    (T, U, T),
    (F, T, T),
    (F, F, F),
    (F, U, U),
    (U, T, T),
    (U, F, U),
    (U, U, U),
]
NOT_TABLE = [(T, F), (F, T), (U, U)]


@pytest.mark.parametrize(("left", "right", "expected"), ALL_TABLE, ids=str)
def test_all_truth_table(left: bool | None, right: bool | None, expected: bool | None) -> None:
    rule = {"all": [is_true("p"), is_true("q")]}
    assert evaluate_rule(rule, truth_data(p=left, q=right)) is expected


@pytest.mark.parametrize(("left", "right", "expected"), ANY_TABLE, ids=str)
def test_any_truth_table(left: bool | None, right: bool | None, expected: bool | None) -> None:
    rule = {"any": [is_true("p"), is_true("q")]}
    assert evaluate_rule(rule, truth_data(p=left, q=right)) is expected


@pytest.mark.parametrize(("inner", "expected"), NOT_TABLE, ids=str)
def test_not_truth_table(inner: bool | None, expected: bool | None) -> None:
    assert evaluate_rule({"not": is_true("p")}, truth_data(p=inner)) is expected


# Criteria and verdicts --------------------------------------------------------------------------

KIND_CASES = [
    ("inclusion", T, ELIGIBLE, (), ()),
    ("inclusion", F, INELIGIBLE, ("C1",), ()),
    ("inclusion", U, INCOMPLETE, (), ("C1",)),
    ("exclusion", T, INELIGIBLE, ("C1",), ()),
    ("exclusion", F, ELIGIBLE, (), ()),
    ("exclusion", U, INCOMPLETE, (), ("C1",)),
]


@pytest.mark.parametrize(
    ("kind", "truth", "result", "failed", "missing"), KIND_CASES, ids=lambda value: str(value)
)
def test_criterion_kinds(
    kind: str, truth: bool | None, result: str, failed: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    verdict = evaluate([criterion("C1", kind, is_true("p"))], truth_data(p=truth))
    assert (verdict.result, verdict.failed, verdict.missing) == (result, failed, missing)
    assert verdict.missing_fields == (("p",) if truth is None else ())


MIXED_CRITERIA = [
    criterion("I1", "inclusion", is_true("a")),
    criterion("E1", "exclusion", is_true("b")),
    criterion("I2", "inclusion", is_true("c")),
    criterion("E2", "exclusion", is_true("d")),
    criterion("I3", "inclusion", {"all": [is_true("e"), is_true("a")]}),
]

VERDICT_CASES = [
    pytest.param(
        {"a": True, "b": False, "c": True, "d": False, "e": True},
        Verdict(ELIGIBLE, (), (), ()),
        id="all-met",
    ),
    pytest.param(
        {"a": False, "b": True, "c": True, "d": True, "e": True},
        Verdict(INELIGIBLE, ("I1", "E1", "E2", "I3"), (), ()),
        id="failed-in-file-order",
    ),
    pytest.param(
        {"a": True, "b": True},
        Verdict(INELIGIBLE, ("E1",), ("I2", "E2", "I3"), ("c", "d", "e")),
        id="missing-reported-with-ineligible",
    ),
    pytest.param(
        {},
        Verdict(INCOMPLETE, (), ("I1", "E1", "I2", "E2", "I3"), ("a", "b", "c", "d", "e")),
        id="nothing-known-fields-first-seen-no-duplicates",
    ),
    pytest.param(
        {"a": None, "b": False, "c": True, "d": False, "e": True},
        Verdict(INCOMPLETE, (), ("I1", "I3"), ("a",)),
        id="none-counts-as-missing",
    ),
    pytest.param(
        {"a": False, "b": False, "c": True, "d": False},
        Verdict(INELIGIBLE, ("I1", "I3"), (), ()),
        id="all-false-despite-missing-field",
    ),
]


@pytest.mark.parametrize(("data", "expected"), VERDICT_CASES)
def test_verdict_result_and_ordering(data: dict[str, object], expected: Verdict) -> None:
    assert evaluate(MIXED_CRITERIA, data) == expected
    assert compile_criteria(MIXED_CRITERIA)(data) == expected


MISSING_FIELD_CASES = [
    pytest.param({"any": [is_true("p"), is_true("q")]}, {"p": True}, (), id="any-true-despite-q"),
    pytest.param({"any": [is_true("p"), is_true("q")]}, {"p": False}, ("q",), id="any-unknown"),
    pytest.param({"all": [is_true("p"), is_true("q")]}, {"p": True}, ("q",), id="all-unknown"),
    pytest.param({"not": is_true("p")}, {}, ("p",), id="not-keeps-blame"),
    pytest.param(
        {"all": [{"any": [is_true("x"), is_true("y")]}, {"not": is_true("z")}, is_true("w")]},
        {"y": False, "w": True},
        ("x", "z"),
        id="nested-only-unknown-parts",
    ),
    pytest.param(
        {"all": [{"any": [is_true("x"), is_true("y")]}, {"any": [is_true("z"), is_true("x")]}]},
        {"y": False, "z": True},
        ("x",),
        id="known-subtree-with-missing-field-not-blamed",
    ),
    pytest.param(
        {"any": [is_true("q"), is_true("p"), is_true("q")]}, {}, ("q", "p"), id="deduplicated"
    ),
]


@pytest.mark.parametrize(("rule", "data", "expected"), MISSING_FIELD_CASES)
def test_missing_fields_blame_only_unknown_parts(
    rule: dict[str, Any], data: dict[str, object], expected: tuple[str, ...]
) -> None:
    verdict = evaluate([criterion("C1", "inclusion", rule)], data)
    assert verdict.missing_fields == expected
    assert verdict.missing == (("C1",) if expected else ())


def test_missing_fields_first_seen_across_criteria() -> None:
    criteria = [
        criterion("C1", "inclusion", {"all": [is_true("b"), is_true("a")]}),
        criterion("C2", "exclusion", {"any": [is_true("a"), is_true("c")]}),
    ]
    assert evaluate(criteria, {}).missing_fields == ("b", "a", "c")


def test_compiled_evaluator_does_not_read_the_rule_dicts_again() -> None:
    criteria = [criterion("C1", "inclusion", {"field": "age_years", "op": "ge", "value": 18})]
    evaluator = compile_criteria(criteria)
    criteria[0]["rule"]["value"] = 99
    criteria[0]["kind"] = "exclusion"
    assert evaluator({"age_years": 20}) == Verdict(ELIGIBLE, (), (), ())


def test_compiled_evaluator_is_reusable_across_candidates() -> None:
    evaluator = compile_criteria(MIXED_CRITERIA)
    first = evaluator({})
    assert evaluator({"a": True, "b": False, "c": True, "d": False, "e": True}).result == ELIGIBLE
    assert evaluator({}) == first


@pytest.mark.parametrize(
    "criteria",
    [
        pytest.param([criterion("C1", "inclusion", {"field": "p", "op": "gte"})], id="operator"),
        pytest.param([criterion("C1", "inclusive", is_true("p"))], id="kind"),
        pytest.param([criterion("C1", "inclusion", {"every": []})], id="shape"),
        pytest.param([criterion("C1", "inclusion", {"all": []})], id="empty-all"),
    ],
)
def test_compiling_an_unvalidated_criterion_raises(criteria: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):
        compile_criteria(criteria)


# Example protocols ------------------------------------------------------------------------------


def test_example_protocols_are_found() -> None:
    names = {path.name for path in PROTOCOLS.glob("*.yaml")}
    assert {"mapp1.yaml", "comp360-trd-p3.yaml"} <= names


@pytest.mark.parametrize("file_name", ["mapp1.yaml", "comp360-trd-p3.yaml"])
def test_example_protocol_rules_are_statically_valid(file_name: str) -> None:
    screening = load_protocol(file_name)["screening"]
    fields = {field["name"]: field for field in screening["fields"]}
    errors = [
        error
        for index, item in enumerate(screening["criteria"])
        for error in rule_errors(item["rule"], fields, f"screening.criteria[{index}].rule")
    ]
    assert screening["criteria"] and errors == []


MAPP1_ELIGIBLE = {
    "age_years": 34,
    "ptsd_dsm5_current": True,
    "ptsd_symptom_duration_months": 6,
    "caps5_total": 35,
    "agrees_overnight_stay_after_dosing": True,
    "history_psychotic_disorder": False,
    "bipolar_i_disorder": False,
    "dissociative_identity_disorder": False,
    "eating_disorder_with_active_purging": False,
    "mdd_with_psychotic_features": False,
    "personality_disorder": False,
    "current_alcohol_or_substance_use_disorder": False,
    "pregnant_or_lactating": False,
    "uncontrolled_hypertension": False,
    "history_arrhythmia": False,
    "marked_baseline_qtc_prolongation": False,
}
MAPP1_CASES = [
    pytest.param({}, Verdict(ELIGIBLE, (), (), ()), id="eligible-at-thresholds"),
    pytest.param({"age_years": 17}, Verdict(INELIGIBLE, ("I1",), (), ()), id="underage"),
    pytest.param(
        {"caps5_total": None, "pregnant_or_lactating": True},
        Verdict(INELIGIBLE, ("E8",), ("I4",), ("caps5_total",)),
        id="excluded-with-missing-score",
    ),
    pytest.param(
        {"history_arrhythmia": None, "ptsd_dsm5_current": None},
        Verdict(INCOMPLETE, (), ("I2", "E10"), ("ptsd_dsm5_current", "history_arrhythmia")),
        id="incomplete",
    ),
]


@pytest.mark.parametrize(("changes", "expected"), MAPP1_CASES)
def test_mapp1_verdicts(changes: dict[str, object], expected: Verdict) -> None:
    screening = load_protocol("mapp1.yaml")["screening"]
    clean, errors = clean_values(screening["fields"], {**MAPP1_ELIGIBLE, **changes})
    assert errors == {}
    assert compile_criteria(screening["criteria"])(clean) == expected


def test_mapp1_with_no_data_misses_every_criterion_and_field() -> None:
    screening = load_protocol("mapp1.yaml")["screening"]
    verdict = evaluate(screening["criteria"], {})
    assert len(screening["criteria"]) == 16
    assert verdict.result == INCOMPLETE
    assert verdict.missing == tuple(item["id"] for item in screening["criteria"])
    assert verdict.missing_fields == tuple(item["rule"]["field"] for item in screening["criteria"])


COMP360_I4_CASES = [
    pytest.param({"first_lifetime_episode": False}, T, (), id="not-first-episode"),
    pytest.param(
        {"first_lifetime_episode": True, "current_episode_duration_months": 2},
        F,
        (),
        id="first-episode-too-short",
    ),
    pytest.param(
        {"first_lifetime_episode": True, "current_episode_duration_months": 3},
        T,
        (),
        id="first-episode-3-months",
    ),
    pytest.param(
        {"first_lifetime_episode": True, "current_episode_duration_months": 24},
        T,
        (),
        id="first-episode-24-months",
    ),
    pytest.param(
        {"first_lifetime_episode": True, "current_episode_duration_months": 25},
        F,
        (),
        id="first-episode-too-long",
    ),
    pytest.param(
        {"first_lifetime_episode": True},
        U,
        ("current_episode_duration_months",),
        id="duration-missing",
    ),
    pytest.param(
        {}, U, ("first_lifetime_episode", "current_episode_duration_months"), id="both-missing"
    ),
]


@pytest.mark.parametrize(("data", "truth", "missing_fields"), COMP360_I4_CASES)
def test_comp360_first_episode_duration_rule(
    data: dict[str, object], truth: bool | None, missing_fields: tuple[str, ...]
) -> None:
    screening = load_protocol("comp360-trd-p3.yaml")["screening"]
    i4 = next(item for item in screening["criteria"] if item["id"] == "I4")
    assert evaluate_rule(i4["rule"], data) is truth
    assert evaluate([i4], data).missing_fields == missing_fields


# Static validation of rules ---------------------------------------------------------------------

AGE_GE_18 = {"field": "age_years", "op": "ge", "value": 18}
RULE_ERROR_CASES = [
    (
        "unknown-operator",
        {"field": "age_years", "op": "gte", "value": 18},
        [f"{PLACE}.op: unknown operator 'gte'"],
    ),
    (
        "non-string-operator",
        {"field": "age_years", "op": 5, "value": 18},
        [f"{PLACE}.op: unknown operator 5"],
    ),
    (
        "missing-operator",
        {"field": "age_years", "value": 18},
        [f"{PLACE}.op: an operator is required"],
    ),
    (
        "unknown-field-nested",
        {"all": [AGE_GE_18, {"field": "agee", "op": "ge", "value": 18}]},
        [f"{PLACE}.all[1].field: unknown field 'agee'"],
    ),
    (
        "non-string-field",
        {"field": ["age_years"], "op": "ge", "value": 18},
        [f"{PLACE}.field: expected a field name, got ['age_years']"],
    ),
    (
        "gt-on-boolean",
        {"field": "consented", "op": "gt", "value": True},
        [f"{PLACE}.op: operator 'gt' does not apply to boolean field 'consented'"],
    ),
    (
        "is-true-on-integer",
        {"field": "age_years", "op": "is_true"},
        [f"{PLACE}.op: operator 'is_true' does not apply to integer field 'age_years'"],
    ),
    (
        "between-on-choice",
        {"field": "smoker", "op": "between", "value": ["a", "b"]},
        [f"{PLACE}.op: operator 'between' does not apply to choice field 'smoker'"],
    ),
    (
        "lt-on-text",
        {"field": "notes", "op": "lt", "value": "m"},
        [f"{PLACE}.op: operator 'lt' does not apply to text field 'notes'"],
    ),
    (
        "in-on-date",
        {"field": "screened_on", "op": "in", "value": ["2024-01-01"]},
        [f"{PLACE}.op: operator 'in' does not apply to date field 'screened_on'"],
    ),
    (
        "in-on-boolean",
        {"field": "consented", "op": "in", "value": [True]},
        [f"{PLACE}.op: operator 'in' does not apply to boolean field 'consented'"],
    ),
    (
        "above-maximum",
        {"field": "age_years", "op": "le", "value": 150},
        [f"{PLACE}.value: 150 is above the maximum 120 of field 'age_years'"],
    ),
    (
        "below-minimum",
        {"field": "age_years", "op": "ge", "value": -1},
        [f"{PLACE}.value: -1 is below the minimum 0 of field 'age_years'"],
    ),
    (
        "decimal-above-float-maximum",
        {"field": "bmi", "op": "lt", "value": 60.6},
        [f"{PLACE}.value: 60.6 is above the maximum 60.5 of field 'bmi'"],
    ),
    (
        "not-a-choice",
        {"field": "smoker", "op": "eq", "value": "maybe"},
        [f"{PLACE}.value: 'maybe' is not one of the choices of field 'smoker'"],
    ),
    (
        "bool-for-integer",
        {"field": "age_years", "op": "eq", "value": True},
        [f"{PLACE}.value: expected an integer, got True"],
    ),
    (
        "float-for-integer",
        {"field": "age_years", "op": "eq", "value": 18.0},
        [f"{PLACE}.value: expected an integer, got 18.0"],
    ),
    (
        "string-for-integer",
        {"field": "age_years", "op": "eq", "value": "18"},
        [f"{PLACE}.value: expected an integer, got '18'"],
    ),
    (
        "bool-for-decimal",
        {"field": "bmi", "op": "gt", "value": False},
        [f"{PLACE}.value: expected a number, got False"],
    ),
    (
        "integer-for-boolean",
        {"field": "consented", "op": "eq", "value": 1},
        [f"{PLACE}.value: expected true or false, got 1"],
    ),
    (
        "impossible-date",
        {"field": "screened_on", "op": "lt", "value": "2024-02-30"},
        [f"{PLACE}.value: expected a date 'YYYY-MM-DD', got '2024-02-30'"],
    ),
    (
        "non-iso-date",
        {"field": "screened_on", "op": "lt", "value": "01/03/2024"},
        [f"{PLACE}.value: expected a date 'YYYY-MM-DD', got '01/03/2024'"],
    ),
    (
        "datetime-for-date",
        {"field": "screened_on", "op": "lt", "value": datetime.datetime(2024, 3, 1)},
        [f"{PLACE}.value: expected a date 'YYYY-MM-DD', got datetime.datetime(2024, 3, 1, 0, 0)"],
    ),
    (
        "number-for-text",
        {"field": "notes", "op": "eq", "value": 3},
        [f"{PLACE}.value: expected a string, got 3"],
    ),
    (
        "missing-value",
        {"field": "age_years", "op": "ge"},
        [f"{PLACE}.value: operator 'ge' needs a value"],
    ),
    (
        "value-on-test",
        {"field": "consented", "op": "is_true", "value": True},
        [f"{PLACE}.value: operator 'is_true' takes no value"],
    ),
    (
        "between-scalar",
        {"field": "age_years", "op": "between", "value": 18},
        [f"{PLACE}.value: expected a list [low, high]"],
    ),
    (
        "between-three",
        {"field": "age_years", "op": "between", "value": [1, 2, 3]},
        [f"{PLACE}.value: expected a list [low, high]"],
    ),
    (
        "between-string",
        {"field": "age_years", "op": "between", "value": "18-65"},
        [f"{PLACE}.value: expected a list [low, high]"],
    ),
    (
        "between-bad-end",
        {"field": "age_years", "op": "between", "value": [18, 130]},
        [f"{PLACE}.value[1]: 130 is above the maximum 120 of field 'age_years'"],
    ),
    (
        "between-reversed",
        {"field": "age_years", "op": "between", "value": [65, 18]},
        [f"{PLACE}.value: low 65 is above high 18"],
    ),
    (
        "in-scalar",
        {"field": "smoker", "op": "in", "value": "never"},
        [f"{PLACE}.value: expected a non-empty list"],
    ),
    (
        "in-empty",
        {"field": "smoker", "op": "not_in", "value": []},
        [f"{PLACE}.value: expected a non-empty list"],
    ),
    (
        "in-bad-item",
        {"field": "smoker", "op": "in", "value": ["never", "sometimes"]},
        [f"{PLACE}.value[1]: 'sometimes' is not one of the choices of field 'smoker'"],
    ),
    (
        "not-a-mapping",
        ["age_years", "ge", 18],
        [f"{PLACE}: expected a mapping, got ['age_years', 'ge', 18]"],
    ),
    ("none", None, [f"{PLACE}: expected a mapping, got None"]),
    ("empty-mapping", {}, [f"{PLACE}: expected exactly one of field/all/any/not"]),
    (
        "two-shapes",
        {"field": "age_years", "op": "ge", "value": 18, "all": [AGE_GE_18]},
        [f"{PLACE}: expected exactly one of field/all/any/not"],
    ),
    (
        "unexpected-key",
        {"field": "age_years", "op": "ge", "value": 18, "unit": "years"},
        [f"{PLACE}: unexpected key 'unit'"],
    ),
    (
        "unexpected-key-on-group",
        {"any": [AGE_GE_18], "note": 1},
        [f"{PLACE}: unexpected key 'note'"],
    ),
    ("empty-all", {"all": []}, [f"{PLACE}.all: expected a non-empty list of rules"]),
    ("any-not-a-list", {"any": AGE_GE_18}, [f"{PLACE}.any: expected a non-empty list of rules"]),
    (
        "not-nested",
        {"not": {"field": "age_years", "op": "gte", "value": 1}},
        [f"{PLACE}.not.op: unknown operator 'gte'"],
    ),
    (
        "deep-place",
        {"any": [{"not": {"all": [AGE_GE_18, AGE_GE_18, {"field": "smoker", "op": "is_false"}]}}]},
        [
            f"{PLACE}.any[0].not.all[2].op: "
            "operator 'is_false' does not apply to choice field 'smoker'"
        ],
    ),
    (
        "several-errors-in-order",
        {"all": [{"field": "x", "op": "ge"}, 7, {"any": []}]},
        [
            f"{PLACE}.all[0].field: unknown field 'x'",
            f"{PLACE}.all[1]: expected a mapping, got 7",
            f"{PLACE}.all[2].any: expected a non-empty list of rules",
        ],
    ),
]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [pytest.param(rule, expected, id=name) for name, rule, expected in RULE_ERROR_CASES],
)
def test_rule_errors_messages_and_places(rule: object, expected: list[str]) -> None:
    assert rule_errors(rule, FIELDS_BY_NAME, PLACE) == expected


VALID_RULES = [
    pytest.param(AGE_GE_18, id="integer"),
    pytest.param({"field": "bmi", "op": "between", "value": [18.5, Decimal("24.9")]}, id="decimal"),
    pytest.param({"field": "bmi", "op": "in", "value": [20, 22.5]}, id="decimal-in"),
    pytest.param({"field": "screened_on", "op": "ge", "value": DATE(2024, 1, 1)}, id="yaml-date"),
    pytest.param({"field": "screened_on", "op": "eq", "value": "2024-02-29"}, id="iso-date"),
    pytest.param({"field": "consented", "op": "ne", "value": False}, id="boolean-ne"),
    pytest.param({"field": "smoker", "op": "not_in", "value": ["current"]}, id="choice"),
    pytest.param({"field": "notes", "op": "in", "value": ["a", "b"]}, id="text"),
    pytest.param({"field": "age_years", "op": "between", "value": [18, 18]}, id="between-point"),
    pytest.param({"not": {"any": [is_true("consented"), AGE_GE_18]}}, id="nested"),
]


@pytest.mark.parametrize("rule", VALID_RULES)
def test_rule_errors_accepts_valid_rules(rule: Mapping[str, Any]) -> None:
    assert rule_errors(rule, FIELDS_BY_NAME, PLACE) == []


def test_rule_errors_tolerates_a_field_without_a_valid_type() -> None:
    fields: dict[str, Any] = {"odd": {"name": "odd", "type": "colour"}, "bare": "not a mapping"}
    rule = {"all": [{"field": "odd", "op": "eq", "value": 1}, {"field": "bare", "op": "is_true"}]}
    assert rule_errors(rule, fields, PLACE) == []


VALUE_ERROR_CASES = [
    ("age_years", 18, []),
    ("age_years", 0, []),
    ("age_years", 120, []),
    ("age_years", 121, ["121 is above the maximum 120 of field 'age_years'"]),
    ("age_years", -1, ["-1 is below the minimum 0 of field 'age_years'"]),
    ("age_years", False, ["expected an integer, got False"]),
    ("bmi", Decimal("60.5"), []),
    ("bmi", Decimal("9.99"), ["9.99 is below the minimum 10 of field 'bmi'"]),
    ("bmi", float("nan"), ["expected a number, got nan"]),
    ("bmi", Decimal("Infinity"), ["expected a number, got Infinity"]),
    ("consented", False, []),
    ("consented", "false", ["expected true or false, got 'false'"]),
    ("screened_on", DATE(2024, 2, 29), []),
    ("screened_on", "20240301", ["expected a date 'YYYY-MM-DD', got '20240301'"]),
    ("smoker", "former", []),
    ("smoker", "Former", ["'Former' is not one of the choices of field 'smoker'"]),
    ("notes", "", []),
    ("notes", None, ["expected a string, got None"]),
]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    VALUE_ERROR_CASES,
    ids=[f"{name}-{value!r}" for name, value, _ in VALUE_ERROR_CASES],
)
def test_value_errors(name: str, value: object, expected: list[str]) -> None:
    assert value_errors(FIELDS_BY_NAME[name], value) == expected


# clean_values -----------------------------------------------------------------------------------

CLEAN_CASES = [
    ("age_years", 18, 18),
    ("age_years", 0, 0),
    ("bmi", 22, Decimal("22")),
    ("bmi", 22.5, Decimal("22.5")),
    ("bmi", 10.1, Decimal("10.1")),
    ("bmi", Decimal("22.50"), Decimal("22.50")),
    ("consented", True, True),
    ("consented", False, False),
    ("screened_on", DATE(2024, 3, 1), DATE(2024, 3, 1)),
    ("screened_on", "2024-02-29", DATE(2024, 2, 29)),
    ("smoker", "never", "never"),
    ("notes", "fine", "fine"),
    ("notes", "", ""),
]


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    CLEAN_CASES,
    ids=[f"{name}-{raw!r}" for name, raw, _ in CLEAN_CASES],
)
def test_clean_values_accepts(name: str, raw: object, expected: object) -> None:
    clean, errors = clean_values(FIELDS, {name: raw})
    assert errors == {}
    assert clean == {name: expected}
    assert type(clean[name]) is type(expected)
    assert str(clean[name]) == str(expected)


REJECT_CASES = [
    ("age_years", True, "expected an integer, got True"),
    ("age_years", 18.0, "expected an integer, got 18.0"),
    ("age_years", "18", "expected an integer, got '18'"),
    ("age_years", 121, "121 is above the maximum 120 of field 'age_years'"),
    ("age_years", -1, "-1 is below the minimum 0 of field 'age_years'"),
    ("bmi", True, "expected a number, got True"),
    ("bmi", "22.5", "expected a number, got '22.5'"),
    ("bmi", float("inf"), "expected a number, got inf"),
    ("bmi", 9, "9 is below the minimum 10 of field 'bmi'"),
    ("bmi", 60.51, "60.51 is above the maximum 60.5 of field 'bmi'"),
    ("consented", 1, "expected true or false, got 1"),
    ("consented", 0, "expected true or false, got 0"),
    ("consented", "yes", "expected true or false, got 'yes'"),
    ("screened_on", "2024-3-1", "expected a date 'YYYY-MM-DD', got '2024-3-1'"),
    ("screened_on", "2023-02-29", "expected a date 'YYYY-MM-DD', got '2023-02-29'"),
    ("screened_on", 20240301, "expected a date 'YYYY-MM-DD', got 20240301"),
    (
        "screened_on",
        datetime.datetime(2024, 3, 1, 9, 30),
        "expected a date 'YYYY-MM-DD', got datetime.datetime(2024, 3, 1, 9, 30)",
    ),
    ("smoker", "sometimes", "'sometimes' is not one of the choices of field 'smoker'"),
    ("smoker", 1, "expected a string, got 1"),
    ("notes", 5, "expected a string, got 5"),
    ("notes", ["a"], "expected a string, got ['a']"),
]


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    REJECT_CASES,
    ids=[f"{name}-{raw!r}" for name, raw, _ in REJECT_CASES],
)
def test_clean_values_rejects(name: str, raw: object, message: str) -> None:
    assert clean_values(FIELDS, {name: raw}) == ({}, {name: [message]})


def test_clean_values_treats_none_and_absence_as_no_value() -> None:
    assert clean_values(FIELDS, {"age_years": None, "consented": None}) == ({}, {})
    assert clean_values(FIELDS, {}) == ({}, {})


def test_clean_values_reports_unknown_field_and_keeps_the_rest() -> None:
    clean, errors = clean_values(FIELDS, {"weight": 70, "age_years": 40, "smoker": "x"})
    assert clean == {"age_years": 40}
    assert errors == {
        "weight": ["unknown field"],
        "smoker": ["'x' is not one of the choices of field 'smoker'"],
    }


# Properties -------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=200, deadline=None)
PROPERTY_FIELDS: dict[str, dict[str, Any]] = {
    "n": {"name": "n", "type": "integer", "min": 0, "max": 5},
    "d": {"name": "d", "type": "decimal", "min": 0, "max": 3},
    "b": {"name": "b", "type": "boolean"},
    "c": {"name": "c", "type": "choice", "choices": ["x", "y", "z"]},
    "t": {"name": "t", "type": "date"},
}
DAYS = [DATE(2024, 1, day) for day in range(1, 5)]
DATA_VALUES = {
    "n": st.integers(0, 5),
    "d": st.sampled_from(["0", "0.5", "1", "1.5", "2.5", "3"]).map(Decimal),
    "b": st.booleans(),
    "c": st.sampled_from(["x", "y", "z"]),
    "t": st.sampled_from(DAYS),
}
RULE_VALUES = {
    "n": st.integers(0, 5),
    "d": st.sampled_from([0, 1, 3, 0.5, 1.5, Decimal("2.5")]),
    "c": st.sampled_from(["x", "y", "z"]),
    "t": st.sampled_from(DAYS).flatmap(lambda day: st.sampled_from([day, day.isoformat()])),
}
ORDERED = ["eq", "ne", "lt", "le", "gt", "ge"]


def leaf_rules(name: str, operators: list[str]) -> st.SearchStrategy[dict[str, object]]:
    """Comparisons on one field with single, pair and list values."""
    single = st.builds(comparison, st.just(name), st.sampled_from(operators), RULE_VALUES[name])
    pair = st.lists(RULE_VALUES[name], min_size=2, max_size=2).map(
        lambda ends: comparison(name, "between", sorted(ends, key=str_sort_key))
    )
    listed = st.builds(
        comparison,
        st.just(name),
        st.sampled_from(["in", "not_in"]),
        st.lists(RULE_VALUES[name], min_size=1, max_size=3),
    )
    strategies = [single]
    if "lt" in operators:
        strategies.append(pair)
    if name in ("n", "d", "c"):
        strategies.append(listed)
    return st.one_of(strategies)


def str_sort_key(value: object) -> Any:
    """Sort key that orders dates given as date objects or ISO strings, and numbers."""
    if isinstance(value, str):
        return DATE.fromisoformat(value)
    return Decimal(str(value)) if isinstance(value, float) else value


BOOLEAN_LEAVES = st.one_of(
    st.builds(comparison, st.just("b"), st.sampled_from(["is_true", "is_false"]), st.none()),
    st.builds(comparison, st.just("b"), st.sampled_from(["eq", "ne"]), st.booleans()),
)
LEAVES = st.one_of(
    leaf_rules("n", ORDERED),
    leaf_rules("d", ORDERED),
    leaf_rules("c", ["eq", "ne"]),
    leaf_rules("t", ORDERED),
    BOOLEAN_LEAVES,
)
RULES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda parts: {"all": parts}),
        st.lists(children, min_size=1, max_size=3).map(lambda parts: {"any": parts}),
        children.map(lambda part: {"not": part}),
    ),
    max_leaves=8,
)
PARTIAL_DATA = st.fixed_dictionaries(
    {}, optional={name: st.one_of(st.none(), values) for name, values in DATA_VALUES.items()}
)
FULL_DATA = st.fixed_dictionaries(DATA_VALUES)


def numbered_criteria(pairs: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Criteria C0, C1, ... from (kind, rule) pairs."""
    return [criterion(f"C{index}", kind, rule) for index, (kind, rule) in enumerate(pairs)]


CRITERIA = st.lists(
    st.tuples(st.sampled_from(["inclusion", "exclusion"]), RULES), min_size=1, max_size=5
).map(numbered_criteria)

# Naive reference, straight from the spec text: false < unknown < true, so all is the minimum,
# any the maximum and not the mirror image.
LEVELS = {False: 0, None: 1, True: 2}
TRUTHS = {0: False, 1: None, 2: True}


def reference_value(rule_value: object, found: object) -> object:
    """Bring a rule value to the type of the data value it is compared with."""
    if isinstance(found, DATE) and isinstance(rule_value, str):
        return DATE.fromisoformat(rule_value)
    if isinstance(found, Decimal):
        return Decimal(str(rule_value))
    return rule_value


def reference_compare(operator: str, found: object, rule_value: object) -> bool:
    """One known comparison, spelled out operator by operator."""
    if operator == "is_true":
        return found is True
    if operator == "is_false":
        return found is False
    # rule_value is the rule's list (between, in, not_in); values are of the field's type.
    if operator == "between":
        low, high = (reference_value(end, found) for end in rule_value)  # type: ignore[attr-defined]
        return low <= found <= high  # type: ignore[operator]
    if operator in ("in", "not_in"):
        members = [reference_value(item, found) for item in rule_value]  # type: ignore[attr-defined]
        return (found in members) == (operator == "in")
    bound = reference_value(rule_value, found)
    # found and bound are of the field's type, which orders them.
    results = {
        "eq": lambda: found == bound,
        "ne": lambda: found != bound,
        "lt": lambda: found < bound,  # type: ignore[operator]
        "le": lambda: found <= bound,  # type: ignore[operator]
        "gt": lambda: found > bound,  # type: ignore[operator]
        "ge": lambda: found >= bound,  # type: ignore[operator]
    }
    return results[operator]()


def reference_level(rule: Mapping[str, Any], data: Mapping[str, object]) -> int:
    """Truth level 0/1/2 of a rule under the spec's three-valued logic."""
    if "all" in rule:
        return min(reference_level(part, data) for part in rule["all"])
    if "any" in rule:
        return max(reference_level(part, data) for part in rule["any"])
    if "not" in rule:
        return 2 - reference_level(rule["not"], data)
    found = data.get(rule["field"])
    if found is None:
        return 1
    return LEVELS[reference_compare(rule["op"], found, rule.get("value"))]


def reference_rule(rule: Mapping[str, Any], data: Mapping[str, object]) -> bool | None:
    """Reference truth of a rule."""
    return TRUTHS[reference_level(rule, data)]


def reference_blame(rule: Mapping[str, Any], data: Mapping[str, object]) -> list[str]:
    """Fields that make a rule unknown: those inside its unknown parts."""
    if reference_rule(rule, data) is not None:
        return []
    if "field" in rule:
        return [rule["field"]]
    if "not" in rule:
        return reference_blame(rule["not"], data)
    parts = rule.get("all", rule.get("any"))
    return [name for part in parts for name in reference_blame(part, data)]


def reference_verdict(criteria: list[dict[str, Any]], data: Mapping[str, object]) -> Verdict:
    """Reference verdict written from the spec's result rules."""
    truths = [reference_rule(item["rule"], data) for item in criteria]
    failed = tuple(
        item["id"]
        for item, truth in zip(criteria, truths, strict=True)
        if (item["kind"] == "inclusion" and truth is False)
        or (item["kind"] == "exclusion" and truth is True)
    )
    unknown = [item for item, truth in zip(criteria, truths, strict=True) if truth is None]
    fields: list[str] = []
    for item in unknown:
        for name in reference_blame(item["rule"], data):
            if name not in fields:
                fields.append(name)
    result = INELIGIBLE if failed else (INCOMPLETE if unknown else ELIGIBLE)
    return Verdict(result, failed, tuple(item["id"] for item in unknown), tuple(fields))


@PROPERTY
@given(RULES, PARTIAL_DATA)
def test_property_rule_agrees_with_reference(rule: dict[str, Any], data: dict[str, object]) -> None:
    assert evaluate_rule(rule, data) is reference_rule(rule, data)


@PROPERTY
@given(CRITERIA, PARTIAL_DATA)
def test_property_compiled_verdict_agrees_with_reference(
    criteria: list[dict[str, Any]], data: dict[str, object]
) -> None:
    assert compile_criteria(criteria)(data) == reference_verdict(criteria, data)


@PROPERTY
@given(RULES)
def test_property_generated_rules_are_statically_valid(rule: dict[str, Any]) -> None:
    assert rule_errors(rule, PROPERTY_FIELDS, "rule") == []


@PROPERTY
@given(RULES, RULES, PARTIAL_DATA)
def test_property_de_morgan(
    first: dict[str, Any], second: dict[str, Any], data: dict[str, object]
) -> None:
    negated_all = {"not": {"all": [first, second]}}
    negated_any = {"not": {"any": [first, second]}}
    any_of_negations = {"any": [{"not": first}, {"not": second}]}
    all_of_negations = {"all": [{"not": first}, {"not": second}]}
    assert evaluate_rule(negated_all, data) is evaluate_rule(any_of_negations, data)
    assert evaluate_rule(negated_any, data) is evaluate_rule(all_of_negations, data)
    as_verdict = [criterion("C", "inclusion", negated_all)]
    other_verdict = [criterion("C", "inclusion", any_of_negations)]
    assert evaluate(as_verdict, data) == evaluate(other_verdict, data)


@PROPERTY
@given(RULES, PARTIAL_DATA)
def test_property_double_negation_identity_and_idempotence(
    rule: dict[str, Any], data: dict[str, object]
) -> None:
    expected = evaluate_rule(rule, data)
    variants: list[dict[str, Any]] = [
        {"not": {"not": rule}},
        {"all": [rule]},
        {"any": [rule]},
        {"all": [rule, rule]},
        {"any": [rule, rule, rule]},
    ]
    assert [evaluate_rule(variant, data) for variant in variants] == [expected] * len(variants)


@PROPERTY
@given(st.lists(RULES, min_size=2, max_size=4), PARTIAL_DATA, st.data())
def test_property_all_and_any_are_commutative(
    parts: list[dict[str, Any]], data: dict[str, object], draw: st.DataObject
) -> None:
    shuffled = draw.draw(st.permutations(parts))
    for shape in ("all", "any"):
        assert evaluate_rule({shape: parts}, data) is evaluate_rule({shape: shuffled}, data)


@PROPERTY
@given(st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=6))
def test_property_kleene_tables_for_any_length(truths: list[bool | None]) -> None:
    names = [f"p{index}" for index in range(len(truths))]
    data = truth_data(**dict(zip(names, truths, strict=True)))
    parts = [is_true(name) for name in names]
    expected_all = False if False in truths else (None if None in truths else True)
    expected_any = True if True in truths else (None if None in truths else False)
    assert evaluate_rule({"all": parts}, data) is expected_all
    assert evaluate_rule({"any": parts}, data) is expected_any


@PROPERTY
@given(RULES, PARTIAL_DATA, FULL_DATA)
def test_property_filling_in_values_never_changes_a_known_result(
    rule: dict[str, Any], partial: dict[str, object], full: dict[str, object]
) -> None:
    known = {name: value for name, value in partial.items() if value is not None}
    before = evaluate_rule(rule, partial)
    after = evaluate_rule(rule, {**full, **known})
    assert after is not None
    if before is not None:
        assert after is before


@PROPERTY
@given(RULES, PARTIAL_DATA, FULL_DATA)
def test_property_missing_fields_are_absent_and_sufficient(
    rule: dict[str, Any], partial: dict[str, object], full: dict[str, object]
) -> None:
    verdict = evaluate([criterion("C", "exclusion", rule)], partial)
    absent = {name for name in PROPERTY_FIELDS if partial.get(name) is None}
    assert set(verdict.missing_fields) <= absent
    assert len(verdict.missing_fields) == len(set(verdict.missing_fields))
    assert bool(verdict.missing_fields) == (verdict.missing == ("C",))
    # Filling every field that was not blamed must leave the criterion unknown.
    unblamed = {name: full[name] for name in absent - set(verdict.missing_fields)}
    if verdict.missing:
        assert evaluate_rule(rule, {**partial, **unblamed}) is None


JUNK = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-200, 200),
        st.floats(allow_nan=True),
        st.sampled_from(["n", "d", "c", "x", "eq", "between", "in", "is_true", "2024-01-01"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["field", "op", "value", "all", "any", "not", "extra"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@PROPERTY
@given(JUNK)
def test_property_rule_errors_never_raises_and_always_names_the_place(rule: object) -> None:
    errors = rule_errors(rule, PROPERTY_FIELDS, "rule")
    assert all(isinstance(error, str) and error.startswith("rule") for error in errors)
    if not isinstance(rule, dict):
        assert errors != []


@PROPERTY
@given(st.dictionaries(st.sampled_from([*PROPERTY_FIELDS, "zz"]), JUNK, max_size=6))
def test_property_clean_values_never_raises_and_splits_keys(raw: dict[str, object]) -> None:
    clean, errors = clean_values(list(PROPERTY_FIELDS.values()), raw)
    assert set(clean).isdisjoint(errors)
    expected_keys = {name for name, value in raw.items() if value is not None or name == "zz"}
    assert set(clean) | set(errors) == expected_keys
    assert all(rule_value_fits(name, value) for name, value in clean.items())


def rule_value_fits(name: str, value: object) -> bool:
    """A cleaned value has the Python type its field type promises."""
    expected = {
        "integer": int,
        "decimal": Decimal,
        "boolean": bool,
        "date": DATE,
        "choice": str,
        "text": str,
    }[PROPERTY_FIELDS[name]["type"]]
    return type(value) is expected
