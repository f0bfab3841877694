"""Screening rules: static validation, value cleaning and three-valued evaluation.

Pure Python on purpose: no Django, no project imports. Data in, result out.
"""

from __future__ import annotations

import datetime
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard, cast

FIELD_TYPES = ("integer", "decimal", "boolean", "date", "choice", "text")
COMPARISON_OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in")
TEST_OPERATORS = ("is_true", "is_false")
ELIGIBLE, INELIGIBLE, INCOMPLETE = "eligible", "ineligible", "incomplete"

RULE_SHAPES = ("field", "all", "any", "not")
ORDERED_TYPES = ("integer", "decimal", "date")
MEMBERSHIP_TYPES = ("integer", "decimal", "choice", "text")
OPERATOR_TYPES: dict[str, tuple[str, ...]] = {
    "eq": FIELD_TYPES,
    "ne": FIELD_TYPES,
    "lt": ORDERED_TYPES,
    "le": ORDERED_TYPES,
    "gt": ORDERED_TYPES,
    "ge": ORDERED_TYPES,
    "between": ORDERED_TYPES,
    "in": MEMBERSHIP_TYPES,
    "not_in": MEMBERSHIP_TYPES,
    "is_true": ("boolean",),
    "is_false": ("boolean",),
}
TYPE_DESCRIPTIONS = {
    "integer": "an integer",
    "decimal": "a number",
    "boolean": "true or false",
    "date": "a date 'YYYY-MM-DD'",
    "choice": "a string",
    "text": "a string",
}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Truth = bool | None
Check = Callable[[Mapping[str, object]], Truth]
Explain = Callable[[Mapping[str, object]], list[str]]


def _show(value: object) -> str:
    """Render a value for a message: numbers plainly, everything else as repr."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return repr(value)


def _is_number(value: object) -> TypeGuard[int | float | Decimal]:
    """Tell whether a value is a real number usable as a bound (bool excluded)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _parse_integer(value: object) -> int | None:
    """Accept a plain int only; bool is an int subclass and must not pass."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _parse_decimal(value: object) -> Decimal | None:
    """Accept a finite int, float or Decimal, returned as Decimal."""
    if not _is_number(value):
        return None
    # str() keeps 0.1 as 0.1 rather than its binary expansion.
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return number if number.is_finite() else None


def _parse_boolean(value: object) -> bool | None:
    """Accept True or False only."""
    return value if isinstance(value, bool) else None


def _parse_date(value: object) -> datetime.date | None:
    """Accept a date (not a datetime) or a strict ISO 'YYYY-MM-DD' string."""
    if isinstance(value, datetime.datetime):
        return None
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _parse_string(value: object) -> str | None:
    """Accept a str."""
    return value if isinstance(value, str) else None


PARSERS: dict[str, Callable[[object], object]] = {
    "integer": _parse_integer,
    "decimal": _parse_decimal,
    "boolean": _parse_boolean,
    "date": _parse_date,
    "choice": _parse_string,
    "text": _parse_string,
}


def _field_type(field: object) -> str | None:
    """Return the declared type of a field, or None when it is missing or unknown."""
    if not isinstance(field, Mapping):
        return None
    field_type = field.get("type")
    return field_type if field_type in FIELD_TYPES else None


def _bound_errors(field: Mapping[str, Any], name: object, value: object) -> list[str]:
    """Messages for a parsed value that breaks the field's min, max or choices."""
    field_type = field.get("type")
    errors = []
    if field_type in ("integer", "decimal"):
        minimum, maximum = field.get("min"), field.get("max")
        # The value was parsed as the field's type: a number here.
        if _is_number(minimum) and value < minimum:  # type: ignore[operator]
            errors.append(f"{_show(value)} is below the minimum {_show(minimum)} of field '{name}'")
        if _is_number(maximum) and value > maximum:  # type: ignore[operator]
            errors.append(f"{_show(value)} is above the maximum {_show(maximum)} of field '{name}'")
    if field_type == "choice":
        choices = field.get("choices")
        if isinstance(choices, list | tuple) and value not in choices:
            errors.append(f"{_show(value)} is not one of the choices of field '{name}'")
    return errors


def _checked_value(
    field: Mapping[str, Any], name: object, value: object
) -> tuple[object, list[str]]:
    """Parse a value for a field: (parsed value or None, error messages)."""
    field_type = _field_type(field)
    if field_type is None:
        return None, [f"field '{name}' has no valid type"]
    parsed = PARSERS[field_type](value)
    if parsed is None:
        return None, [f"expected {TYPE_DESCRIPTIONS[field_type]}, got {_show(value)}"]
    errors = _bound_errors(field, name, parsed)
    return (None if errors else parsed), errors


def value_errors(field: Mapping[str, Any], value: object) -> list[str]:
    """Messages (without place) for a value that breaks the field's type, min, max or choices."""
    name = field.get("name") if isinstance(field, Mapping) else None
    return _checked_value(field, name, value)[1]


def clean_values(
    fields: Sequence[Mapping[str, Any]], raw: Mapping[str, object]
) -> tuple[dict[str, object], dict[str, list[str]]]:
    """Validate screening data against the fields: (clean values, errors by field name)."""
    by_name = {field.get("name"): field for field in fields if isinstance(field, Mapping)}
    clean: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for name, value in raw.items():
        if name not in by_name:
            errors[str(name)] = ["unknown field"]
        elif value is not None:
            parsed, problems = _checked_value(by_name[name], name, value)
            if problems:
                errors[name] = problems
            else:
                clean[name] = parsed
    ordered = {name: clean[name] for name in by_name if name in clean}
    return ordered, errors


def rule_errors(rule: object, fields: Mapping[str, Mapping[str, Any]], place: str) -> list[str]:
    """Static check of one rule against the declared fields (a dict of name to field dict)."""
    if not isinstance(rule, Mapping):
        return [f"{place}: expected a mapping, got {_show(rule)}"]
    shapes = [key for key in RULE_SHAPES if key in rule]
    if len(shapes) != 1:
        return [f"{place}: expected exactly one of field/all/any/not"]
    if shapes[0] == "field":
        return _comparison_errors(rule, fields, place)
    if shapes[0] == "not":
        nested = rule_errors(rule["not"], fields, f"{place}.not")
        return _unexpected_key_errors(rule, ("not",), place) + nested
    return _group_errors(rule, shapes[0], fields, place)


def _unexpected_key_errors(
    rule: Mapping[Any, Any], allowed: tuple[str, ...], place: str
) -> list[str]:
    """Messages for keys a rule of this shape does not take."""
    return [f"{place}: unexpected key {_show(key)}" for key in rule if key not in allowed]


def _group_errors(
    rule: Mapping[str, Any], shape: str, fields: Mapping[str, Mapping[str, Any]], place: str
) -> list[str]:
    """Errors of an all/any rule and of each of its parts."""
    errors = _unexpected_key_errors(rule, (shape,), place)
    parts = rule[shape]
    if not isinstance(parts, list | tuple) or not parts:
        return [*errors, f"{place}.{shape}: expected a non-empty list of rules"]
    for index, part in enumerate(parts):
        errors += rule_errors(part, fields, f"{place}.{shape}[{index}]")
    return errors


def _comparison_errors(
    rule: Mapping[str, Any], fields: Mapping[str, Mapping[str, Any]], place: str
) -> list[str]:
    """Errors of a comparison or test rule: field, operator, and value."""
    name, operator = rule["field"], rule.get("op")
    errors = _unexpected_key_errors(rule, ("field", "op", "value"), place)
    if not isinstance(name, str):
        errors.append(f"{place}.field: expected a field name, got {_show(name)}")
    elif name not in fields:
        errors.append(f"{place}.field: unknown field '{name}'")
    if "op" not in rule:
        errors.append(f"{place}.op: an operator is required")
    elif not isinstance(operator, str) or operator not in OPERATOR_TYPES:
        errors.append(f"{place}.op: unknown operator {_show(operator)}")
    if errors:
        return errors
    return _operator_errors(rule, name, fields[name], place)


def _operator_errors(rule: Mapping[str, Any], name: str, field: Any, place: str) -> list[str]:
    """Errors of an operator and its value against a known field."""
    operator = rule["op"]
    field_type = _field_type(field)
    if field_type is None:
        # The field's own declaration is reported by whoever validates the fields.
        return []
    if field_type not in OPERATOR_TYPES[operator]:
        return [f"{place}.op: operator '{operator}' does not apply to {field_type} field '{name}'"]
    if operator in TEST_OPERATORS:
        has_value = "value" in rule
        return [f"{place}.value: operator '{operator}' takes no value"] if has_value else []
    if "value" not in rule:
        return [f"{place}.value: operator '{operator}' needs a value"]
    if operator == "between":
        return _between_errors(rule["value"], name, field, place)
    if operator in ("in", "not_in"):
        return _list_errors(rule["value"], name, field, place)
    return [
        f"{place}.value: {message}" for message in _checked_value(field, name, rule["value"])[1]
    ]


def _between_errors(value: object, name: str, field: Mapping[str, Any], place: str) -> list[str]:
    """Errors of a [low, high] value: its shape, each end, and their order."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return [f"{place}.value: expected a list [low, high]"]
    low, low_errors = _checked_value(field, name, value[0])
    high, high_errors = _checked_value(field, name, value[1])
    errors = [f"{place}.value[0]: {message}" for message in low_errors]
    errors += [f"{place}.value[1]: {message}" for message in high_errors]
    # Both ends parsed without errors: values of the field's type, which orders them.
    if not errors and low > high:  # type: ignore[operator]
        errors.append(f"{place}.value: low {_show(value[0])} is above high {_show(value[1])}")
    return errors


def _list_errors(value: object, name: str, field: Mapping[str, Any], place: str) -> list[str]:
    """Errors of an in/not_in value: a non-empty list of valid values."""
    if not isinstance(value, list | tuple) or not value:
        return [f"{place}.value: expected a non-empty list"]
    errors = []
    for index, item in enumerate(value):
        messages = _checked_value(field, name, item)[1]
        errors += [f"{place}.value[{index}]: {message}" for message in messages]
    return errors


@dataclass(frozen=True)
class Verdict:
    """The outcome of screening one candidate against a protocol's criteria."""

    result: str
    failed: tuple[str, ...]
    missing: tuple[str, ...]
    missing_fields: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """Return the verdict as plain JSON-ready data."""
        return {
            "result": self.result,
            "failed": list(self.failed),
            "missing": list(self.missing),
            "missing_fields": list(self.missing_fields),
        }


Evaluator = Callable[[Mapping[str, object]], Verdict]
BINARY_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
FAILING_OUTCOMES = {"inclusion": False, "exclusion": True}


def _rule_number(value: object) -> object:
    """Turn a float rule value into a Decimal so it compares exactly with Decimal data."""
    return Decimal(str(value)) if isinstance(value, float) else value


def _rule_date(value: object) -> datetime.date | None:
    """Return the date an ISO string rule value stands for, else None."""
    return _parse_date(value) if isinstance(value, str) else None


def _ordered_bound(value: object) -> object:
    """Convert a bound for lt/le/gt/ge/between: only numbers and dates are ordered."""
    as_date = _rule_date(value)
    return as_date if as_date is not None else _rule_number(value)


def _compile_binary(name: str, operator_name: str, value: object) -> Check:
    """Compile eq/ne/lt/le/gt/ge into a closure over a precomputed bound."""
    compare = BINARY_OPERATORS[operator_name]
    as_date = _rule_date(value)
    if as_date is not None and operator_name in ("eq", "ne"):
        # Without field types an ISO string may be text or a date; the data value decides.
        return _compile_date_or_text(name, compare, value, as_date)
    bound = _ordered_bound(value)

    def check(data: Mapping[str, object]) -> Truth:
        found = data.get(name)
        return None if found is None else compare(found, bound)

    return check


def _compile_date_or_text(
    name: str, compare: Callable[[Any, Any], bool], text: object, as_date: datetime.date
) -> Check:
    """Compile eq/ne on an ISO string that matches a date or a text value."""

    def check(data: Mapping[str, object]) -> Truth:
        found = data.get(name)
        if found is None:
            return None
        return compare(found, as_date if isinstance(found, datetime.date) else text)

    return check


def _compile_between(name: str, value: Sequence[object]) -> Check:
    """Compile an inclusive [low, high] range test."""
    low, high = _ordered_bound(value[0]), _ordered_bound(value[1])

    def check(data: Mapping[str, object]) -> Truth:
        found = data.get(name)
        # Bounds and value are of the field's type, checked when the rule was validated.
        return None if found is None else low <= found <= high  # type: ignore[operator]

    return check


def _compile_membership(name: str, value: Sequence[object], wanted: bool) -> Check:
    """Compile in (wanted=True) or not_in (wanted=False) over a precomputed collection."""
    items = [_rule_number(item) for item in value]
    try:
        members: frozenset[object] | tuple[object, ...] = frozenset(items)
    except TypeError:
        members = tuple(items)

    def check(data: Mapping[str, object]) -> Truth:
        found = data.get(name)
        return None if found is None else (found in members) is wanted

    return check


def _compile_test(name: str, wanted: bool) -> Check:
    """Compile is_true (wanted=True) or is_false (wanted=False)."""

    def check(data: Mapping[str, object]) -> Truth:
        found = data.get(name)
        return None if found is None else found is wanted

    return check


def _compile_comparison(rule: Mapping[str, Any]) -> tuple[Check, Explain]:
    """Compile a field rule; when unknown, its own field is the one missing."""
    name, operator_name, value = rule["field"], rule.get("op"), rule.get("value")
    if operator_name in BINARY_OPERATORS:
        check = _compile_binary(name, operator_name, value)
    elif operator_name == "between":
        check = _compile_between(name, cast(Sequence[object], value))  # validated: a list
    elif operator_name in ("in", "not_in"):
        check = _compile_membership(name, cast(Sequence[object], value), operator_name == "in")
    elif operator_name in TEST_OPERATORS:
        check = _compile_test(name, operator_name == "is_true")
    else:
        raise ValueError(f"unknown operator {_show(operator_name)}")
    return check, lambda data: [name]


def _compile_not(rule: Mapping[str, Any]) -> tuple[Check, Explain]:
    """Compile a negation: swap true and false, keep unknown."""
    inner, explain = _compile_rule(rule)

    def check(data: Mapping[str, object]) -> Truth:
        outcome = inner(data)
        return None if outcome is None else not outcome

    return check, explain


def _compile_all(parts: tuple[tuple[Check, Explain], ...]) -> Check:
    """Compile Kleene conjunction: false wins, then unknown, else true."""
    checks = tuple(check for check, _ in parts)

    def check(data: Mapping[str, object]) -> Truth:
        unknown = False
        for part in checks:
            outcome = part(data)
            if outcome is False:
                return False
            if outcome is None:
                unknown = True
        return None if unknown else True

    return check


def _compile_any(parts: tuple[tuple[Check, Explain], ...]) -> Check:
    """Compile Kleene disjunction: true wins, then unknown, else false."""
    checks = tuple(check for check, _ in parts)

    def check(data: Mapping[str, object]) -> Truth:
        unknown = False
        for part in checks:
            outcome = part(data)
            if outcome is True:
                return True
            if outcome is None:
                unknown = True
        return None if unknown else False

    return check


def _explain_parts(parts: tuple[tuple[Check, Explain], ...]) -> Explain:
    """Blame an unknown all/any on the fields of exactly its unknown parts."""

    def explain(data: Mapping[str, object]) -> list[str]:
        names: list[str] = []
        for check, part_explain in parts:
            if check(data) is None:
                names += part_explain(data)
        return names

    return explain


def _compile_group(shape: str, rules: Sequence[Mapping[str, Any]]) -> tuple[Check, Explain]:
    """Compile an all/any rule over its compiled parts."""
    parts = tuple(_compile_rule(part) for part in rules)
    if not parts:
        raise ValueError(f"'{shape}' needs at least one rule")
    if len(parts) == 1:
        return parts[0]
    combine = _compile_all if shape == "all" else _compile_any
    return combine(parts), _explain_parts(parts)


def _compile_rule(rule: Mapping[str, Any]) -> tuple[Check, Explain]:
    """Compile a rule into (three-valued check, explainer of its missing fields)."""
    if "field" in rule:
        return _compile_comparison(rule)
    if "not" in rule:
        return _compile_not(rule["not"])
    for shape in ("all", "any"):
        if shape in rule:
            return _compile_group(shape, rule[shape])
    raise ValueError("a rule needs one of field/all/any/not")


def evaluate_rule(rule: Mapping[str, Any], data: Mapping[str, object]) -> bool | None:
    """Evaluate one rule on clean data: True, False, or None when unknown."""
    return _compile_rule(rule)[0](data)


def _compile_criterion(criterion: Mapping[str, Any]) -> tuple[str, bool, Check, Explain]:
    """Compile a criterion into (id, the outcome that fails it, check, explain)."""
    kind = criterion.get("kind")
    if kind not in FAILING_OUTCOMES:
        raise ValueError(f"criterion {criterion.get('id')!r}: unknown kind {_show(kind)}")
    check, explain = _compile_rule(criterion["rule"])
    return str(criterion["id"]), FAILING_OUTCOMES[kind], check, explain


def compile_criteria(criteria: Sequence[Mapping[str, Any]]) -> Evaluator:
    """Compile validated criteria once into a fast function from clean data to a Verdict."""
    compiled = tuple(_compile_criterion(criterion) for criterion in criteria)

    def evaluator(data: Mapping[str, object]) -> Verdict:
        return _verdict(compiled, data)

    return evaluator


def _verdict(
    compiled: tuple[tuple[str, bool, Check, Explain], ...], data: Mapping[str, object]
) -> Verdict:
    """Run compiled criteria on data and assemble the verdict."""
    failed: list[str] = []
    missing: list[str] = []
    explains: list[Explain] = []
    for identifier, failing, check, explain in compiled:
        outcome = check(data)
        if outcome is None:
            missing.append(identifier)
            explains.append(explain)
        elif outcome is failing:
            failed.append(identifier)
    result = INELIGIBLE if failed else INCOMPLETE if missing else ELIGIBLE
    # dict.fromkeys keeps first-seen order while dropping duplicates.
    missing_fields = dict.fromkeys(name for explain in explains for name in explain(data))
    return Verdict(result, tuple(failed), tuple(missing), tuple(missing_fields))


def evaluate(criteria: Sequence[Mapping[str, Any]], data: Mapping[str, object]) -> Verdict:
    """Evaluate criteria on clean data in one go (compiles every call; reuse compile_criteria)."""
    return compile_criteria(criteria)(data)
