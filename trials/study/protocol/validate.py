"""Validating a parsed protocol, format 1: every error by place, the normalized protocol out."""

from __future__ import annotations

import datetime
import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from screening.rules import FIELD_TYPES, rule_errors
from trials.study.protocol.parse import FILE_PLACE, MAX_INTEGER, ProtocolError, describe, show_key

FORMAT_VERSION = 1

TOP_LEVEL_KEYS = (
    "format",
    "trial",
    "arms",
    "randomization",
    "screening",
    "schedule",
    "instruments",
)
TRIAL_KEYS = (
    "code",
    "title",
    "indication",
    "compound",
    "phase",
    "sponsor",
    "target_enrollment",
    "facilitators_per_dosing_session",
    "facilitator_requirements",
    "dosing_safety",
)
FACILITATOR_REQUIREMENT_KEYS = ("licensed", "min_training_hours")
DOSING_SAFETY_KEYS = ("max_systolic_bp", "max_diastolic_bp", "max_heart_rate")
ARM_KEYS = ("code", "label", "dose_mg")
RANDOMIZATION_KEYS = ("ratio", "block_sizes", "stratify_by")
SCREENING_KEYS = ("fields", "criteria")
FIELD_KEYS = ("name", "type", "label", "unit", "min", "max", "choices", "help")
CRITERION_KEYS = ("id", "kind", "text", "rule")
EVENT_KEYS = ("code", "kind", "label", "anchor", "day", "window", "instruments")
INSTRUMENT_KEYS = ("code", "label", "min", "max", "higher_is_worse")

CRITERION_KINDS = ("inclusion", "exclusion")
EVENT_KINDS = ("preparation", "dosing", "integration", "assessment", "follow_up")
NUMERIC_FIELD_TYPES = ("integer", "decimal")
STRATIFY_FIELD_TYPES = ("choice", "boolean")
RANDOMIZATION_ANCHOR = "randomization"
SITE_STRATUM = "site"

DEFAULT_FACILITATORS_PER_DOSING_SESSION = 2
DEFAULT_LICENSED = True
DEFAULT_MIN_TRAINING_HOURS = 0
DEFAULT_HIGHER_IS_WORSE = True

TRIAL_CODE = re.compile(r"[A-Z0-9-]+", re.ASCII)
CODE = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
CRITERION_ID = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)

# Guards against hostile or broken input (recursive YAML aliases, "billion laughs", deep nesting).
MAX_DEPTH = 64
MAX_VALUES = 100_000


# Limits of what the registry stores (study.models: Trial, Sponsor, Arm), so that a file which
# validates here also saves there. Keep them in step with the models.
MAX_LENGTHS = {
    "trial.code": 40,
    "trial.title": 300,
    "trial.indication": 200,
    "trial.compound": 100,
    "trial.phase": 20,
    "trial.sponsor": 200,
    "arms.code": 40,
    "arms.label": 200,
}
MAX_TARGET_ENROLLMENT = 2_147_483_647  # PositiveIntegerField
MAX_FACILITATORS_PER_DOSING_SESSION = 32_767  # PositiveSmallIntegerField


Path = tuple[Any, ...]


def _place(path: Path) -> str:
    """Render a path as 'screening.criteria[3].rule'; the root is '(file)'."""
    text = ""
    for part in path:
        if _is_int(part):
            text += f"[{part}]"
        else:
            key = part.key if isinstance(part, _Key) else part
            simple = isinstance(key, str) and SIMPLE_KEY.fullmatch(key)
            shown = key if simple else show_key(key)
            text += f".{shown}" if text else shown
    return text or FILE_PLACE


class _Key:
    """A mapping key that is not a string (so it is not mistaken for a list index in a path)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.key == self.key

    def __hash__(self) -> int:
        return hash(("_Key", self.key))


def _key_part(key: Any) -> Any:
    """Path component for a mapping key."""
    return key if isinstance(key, str) else _Key(key)


def _is_int(value: object) -> bool:
    """An int of sane size; bool is an int subclass and never counts."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INTEGER


def _is_number(value: object) -> bool:
    """A sane int or a finite float; never a bool."""
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _normal_number(value: int | float) -> int | float:
    """25.0 -> 25 so equal numbers serialize alike."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple))


def _plain(value: Any) -> Any:
    """Deep copy into plain dicts and lists (the document is known to be acyclic and bounded)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if _is_list(value):
        return [_plain(item) for item in value]
    return value


# Validation machinery --------------------------------------------------------------------------

_MISSING: Any = object()
_INVALID: Any = object()


class _Checker:
    """Collects (path, message) errors while the sections are validated."""

    def __init__(self) -> None:
        self.errors: list[tuple[Path, str]] = []  # (path used for ordering, full "place: message")

    def add(self, path: Path, message: str) -> None:
        self.errors.append((path, f"{_place(path)}: {message}"))

    def add_placed(self, path: Path, text: str) -> None:
        """An error that already carries its place (from screening.rules), ordered at path."""
        self.errors.append((path, text))

    # Mappings ----------------------------------------------------------------------------------

    def mapping(self, value: Any, path: Path, allowed: tuple[str, ...]) -> Mapping[Any, Any] | None:
        """Check value is a mapping without unknown keys; None when it is not a mapping."""
        if not isinstance(value, Mapping):
            self.add(path, f"must be a mapping, got {describe(value)}")
            return None
        for key in value:
            if isinstance(key, str) and key in allowed:
                continue
            message = "unknown key"
            if isinstance(key, str):
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
                if close:
                    message += f" (did you mean '{close[0]}'?)"
            self.add((*path, _key_part(key)), message)
        return value

    def required(self, mapping: Mapping[Any, Any], key: str, path: Path) -> Any:
        """The value of a required key, or _MISSING after reporting it."""
        if key not in mapping:
            self.add((*path, key), "required")
            return _MISSING
        return mapping[key]

    @staticmethod
    def optional(mapping: Mapping[Any, Any], key: str) -> Any:
        """The value of an optional key; absent and null both give _MISSING."""
        value = mapping.get(key)
        return _MISSING if value is None else value

    # Scalars -----------------------------------------------------------------------------------

    def text(self, value: Any, path: Path, max_length: int | None = None) -> Any:
        """A non-blank string (of at most max_length characters), or _INVALID."""
        if value is _MISSING:
            return _INVALID
        if not isinstance(value, str):
            hint = ""
            if isinstance(value, bool):
                hint = " (quote it: YAML reads yes/no/on/off/true/false as booleans)"
            elif isinstance(value, datetime.date):
                hint = " (quote it: YAML reads it as a date)"
            self.add(path, f"must be a string, got {describe(value)}{hint}")
            return _INVALID
        if not value.strip():
            self.add(path, "must not be blank")
            return _INVALID
        if max_length is not None and len(value) > max_length:
            self.add(path, f"must be at most {max_length} characters long, got {len(value)}")
            return _INVALID
        return value

    def pattern(
        self,
        value: Any,
        path: Path,
        pattern: re.Pattern[str],
        what: str = "",
        max_length: int | None = None,
    ) -> Any:
        """A string matching pattern in full, or _INVALID."""
        value = self.text(value, path, max_length)
        if value is _INVALID:
            return _INVALID
        if not pattern.fullmatch(value):
            self.add(path, f"must match {pattern.pattern}{what}")
            return _INVALID
        return value

    def choice(self, value: Any, path: Path, options: tuple[str, ...]) -> Any:
        """One of a fixed set of strings, or _INVALID."""
        if value is _MISSING:
            return _INVALID
        if not isinstance(value, str) or value not in options:
            self.add(path, f"must be one of {', '.join(options)}, got {describe(value)}")
            return _INVALID
        return value

    def integer(
        self, value: Any, path: Path, minimum: int | None = None, maximum: int | None = None
    ) -> Any:
        """An int (never a bool) between minimum and maximum, or _INVALID."""
        if value is _MISSING:
            return _INVALID
        wanted = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer of at least {minimum}"
        )
        if not _is_int(value) or (minimum is not None and value < minimum):
            self.add(path, f"must be {wanted}, got {describe(value)}")
            return _INVALID
        if maximum is not None and value > maximum:
            self.add(path, f"must be at most {maximum}, got {value}")
            return _INVALID
        return value

    def number(self, value: Any, path: Path, non_negative: bool = False) -> Any:
        """A finite int or float (never a bool), normalized; or _INVALID."""
        if value is _MISSING:
            return _INVALID
        wanted = "a non-negative number" if non_negative else "a number"
        if not _is_number(value) or (non_negative and value < 0):
            self.add(path, f"must be {wanted}, got {describe(value)}")
            return _INVALID
        return _normal_number(value)

    def boolean(self, value: Any, path: Path) -> Any:
        """True or False, or _INVALID."""
        if value is _MISSING:
            return _INVALID
        if not isinstance(value, bool):
            self.add(path, f"must be true or false, got {describe(value)}")
            return _INVALID
        return value

    def sequence(self, value: Any, path: Path, non_empty: bool = False) -> list[Any] | None:
        """A list (or tuple), or None after reporting it."""
        if value is _MISSING:
            return None
        if not _is_list(value):
            self.add(path, f"must be a list, got {describe(value)}")
            return None
        if non_empty and not value:
            self.add(path, "must not be empty")
            return None
        return list(value)


def _structure_problems(document: object) -> tuple[list[str], list[tuple[Path, str]]]:
    """Walk the raw document once.

    Returns (fatal, leaf): fatal problems (a value containing itself, nesting deeper than
    MAX_DEPTH, more than MAX_VALUES values) stop validation at once, as walking further would not
    end or would exhaust the stack; leaf problems (non-finite numbers, huge integers, values of
    foreign types) are reported with the other errors unless one of those covers their place.
    """
    fatal: list[str] = []
    leaf: list[tuple[Path, str]] = []
    count = 0
    active: set[int] = set()

    def walk(value: object, path: Path) -> bool:
        nonlocal count
        count += 1
        if count > MAX_VALUES:
            fatal.append(f"{FILE_PLACE}: too large (more than {MAX_VALUES} values)")
            return False
        if len(path) > MAX_DEPTH:
            fatal.append(f"{_place(path)}: nested more than {MAX_DEPTH} levels deep")
            return False
        if isinstance(value, (Mapping, list, tuple)):
            if id(value) in active:
                fatal.append(f"{_place(path)}: contains itself (a recursive YAML alias?)")
                return False
            active.add(id(value))
            items = (
                ((_key_part(key), item) for key, item in value.items())
                if isinstance(value, Mapping)
                else enumerate(value)
            )
            for part, item in items:
                if not walk(item, (*path, part)):
                    return False
            active.discard(id(value))
            return True
        if isinstance(value, float) and not math.isfinite(value):
            leaf.append((path, "must be a finite number"))
        elif isinstance(value, int) and not isinstance(value, bool) and not _is_int(value):
            leaf.append((path, f"integer too large (more than {MAX_INTEGER})"))
        elif value is not None and not isinstance(value, (str, bool, int, float, datetime.date)):
            leaf.append((path, f"unsupported value of type {type(value).__name__}"))
        return True

    try:
        walk(document, ())
    except RecursionError:
        fatal.append(f"{FILE_PLACE}: nested too deep")
    return fatal[:1], leaf


def _position(document: object, path: Path) -> tuple[int, ...]:
    """Sort key putting a path in file order; absent keys go after the present ones."""
    key: list[int] = []
    node: Any = document
    for part in path:
        raw = part.key if isinstance(part, _Key) else part
        if isinstance(node, Mapping):
            keys = list(node.keys())
            index = next((i for i, k in enumerate(keys) if k == raw and type(k) is type(raw)), None)
            if index is None:
                key.append(len(keys))
                node = None
            else:
                key.append(index)
                node = node[keys[index]]
        elif _is_list(node) and _is_int(raw) and 0 <= raw < len(node):
            key.append(raw)
            node = node[raw]
        else:
            key.append(1 << 30)
            node = None
    return tuple(key)


# Sections --------------------------------------------------------------------------------------


def _validate_trial(check: _Checker, value: Any) -> dict[str, Any]:
    path: Path = ("trial",)
    trial = check.mapping(value, path, TRIAL_KEYS)
    if trial is None:
        return {}
    out: dict[str, Any] = {}
    out["code"] = check.pattern(
        check.required(trial, "code", path),
        (*path, "code"),
        TRIAL_CODE,
        max_length=MAX_LENGTHS["trial.code"],
    )
    for key in ("title", "indication", "compound"):
        out[key] = check.text(
            check.required(trial, key, path), (*path, key), MAX_LENGTHS[f"trial.{key}"]
        )
    phase = check.required(trial, "phase", path)
    # phase is text ("3", "2b", "1/2"), but "phase: 3" in YAML is an integer: accept it as "3".
    out["phase"] = check.text(
        str(phase) if _is_int(phase) else phase, (*path, "phase"), MAX_LENGTHS["trial.phase"]
    )
    out["sponsor"] = check.text(
        check.required(trial, "sponsor", path), (*path, "sponsor"), MAX_LENGTHS["trial.sponsor"]
    )
    out["target_enrollment"] = check.integer(
        check.required(trial, "target_enrollment", path),
        (*path, "target_enrollment"),
        minimum=1,
        maximum=MAX_TARGET_ENROLLMENT,
    )
    facilitators = check.optional(trial, "facilitators_per_dosing_session")
    out["facilitators_per_dosing_session"] = (
        DEFAULT_FACILITATORS_PER_DOSING_SESSION
        if facilitators is _MISSING
        else check.integer(
            facilitators,
            (*path, "facilitators_per_dosing_session"),
            minimum=1,
            maximum=MAX_FACILITATORS_PER_DOSING_SESSION,
        )
    )
    out["facilitator_requirements"] = _validate_facilitator_requirements(
        check,
        check.optional(trial, "facilitator_requirements"),
        (*path, "facilitator_requirements"),
    )
    out["dosing_safety"] = _validate_dosing_safety(
        check, check.optional(trial, "dosing_safety"), (*path, "dosing_safety")
    )
    return out


def _validate_facilitator_requirements(check: _Checker, value: Any, path: Path) -> dict[str, Any]:
    out = {"licensed": DEFAULT_LICENSED, "min_training_hours": DEFAULT_MIN_TRAINING_HOURS}
    if value is _MISSING:
        return out
    requirements = check.mapping(value, path, FACILITATOR_REQUIREMENT_KEYS)
    if requirements is None:
        return out
    licensed = check.optional(requirements, "licensed")
    if licensed is not _MISSING:
        out["licensed"] = check.boolean(licensed, (*path, "licensed"))
    hours = check.optional(requirements, "min_training_hours")
    if hours is not _MISSING:
        out["min_training_hours"] = check.integer(hours, (*path, "min_training_hours"), minimum=0)
    return out


def _validate_dosing_safety(check: _Checker, value: Any, path: Path) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(DOSING_SAFETY_KEYS)
    if value is _MISSING:
        return out
    limits = check.mapping(value, path, DOSING_SAFETY_KEYS)
    if limits is None:
        return out
    for key in DOSING_SAFETY_KEYS:
        limit = check.optional(limits, key)
        if limit is not _MISSING:
            out[key] = check.integer(limit, (*path, key), minimum=1)
    systolic, diastolic = out["max_systolic_bp"], out["max_diastolic_bp"]
    if _is_int(systolic) and _is_int(diastolic) and diastolic >= systolic:
        check.add(
            (*path, "max_diastolic_bp"),
            f"must be below max_systolic_bp ({systolic}), got {diastolic}",
        )
    return out


def _validate_arms(
    check: _Checker, value: Any
) -> tuple[list[dict[str, Any]], list[str] | None, bool]:
    """Normalized arms, the valid arm codes in order (None when arms is not even a list), and
    whether every arm has a valid, unique code (so ratio totals can be trusted)."""
    path: Path = ("arms",)
    arms = check.sequence(_required_top(check, value, path), path, non_empty=True)
    if arms is None:
        return [], None, False
    out: list[dict[str, Any]] = []
    codes: list[str] = []
    for index, item in enumerate(arms):
        place = (*path, index)
        arm = check.mapping(item, place, ARM_KEYS)
        if arm is None:
            continue
        code = check.pattern(
            check.required(arm, "code", place),
            (*place, "code"),
            CODE,
            max_length=MAX_LENGTHS["arms.code"],
        )
        if code is not _INVALID:
            if code in codes:
                check.add((*place, "code"), f"duplicate arm code '{code}'")
            else:
                codes.append(code)
        label = check.text(
            check.required(arm, "label", place), (*place, "label"), MAX_LENGTHS["arms.label"]
        )
        dose = _validate_dose(check, check.required(arm, "dose_mg", place), (*place, "dose_mg"))
        out.append({"code": code, "label": label, "dose_mg": dose})
    return out, codes, len(codes) == len(arms)


def _validate_dose(check: _Checker, value: Any, path: Path) -> Any:
    """dose_mg: a non-negative number or a list of 1 or 2 (first and supplemental), as a list."""
    if value is _MISSING:
        return _INVALID
    if _is_list(value):
        if not 1 <= len(value) <= 2:
            check.add(path, f"must be a dose or a list of 1 or 2 doses, got {len(value)} doses")
            return _INVALID
        doses = [check.number(dose, (*path, i), non_negative=True) for i, dose in enumerate(value)]
        return _INVALID if _INVALID in doses else doses
    if not _is_number(value) or value < 0:
        check.add(
            path,
            f"must be a non-negative number or a list of 1 or 2 of them, got {describe(value)}",
        )
        return _INVALID
    return [_normal_number(value)]


def _required_top(check: _Checker, value: Any, path: Path) -> Any:
    """A required top-level value: report it when absent (value is _MISSING)."""
    if value is _MISSING:
        check.add(path, "required")
    return value


class _Fields:
    """What other sections need to know about the screening fields."""

    def __init__(self) -> None:
        self.known = False  # fields was a list, so names can be looked up
        self.by_name: dict[str, dict[str, Any]] = {}


def _validate_screening(check: _Checker, value: Any) -> tuple[dict[str, Any], _Fields]:
    path: Path = ("screening",)
    fields_info = _Fields()
    if _required_top(check, value, path) is _MISSING:
        return {}, fields_info
    screening = check.mapping(value, path, SCREENING_KEYS)
    if screening is None:
        return {}, fields_info
    fields = _validate_fields(
        check, check.required(screening, "fields", path), (*path, "fields"), fields_info
    )
    criteria = _validate_criteria(
        check, check.required(screening, "criteria", path), (*path, "criteria"), fields_info
    )
    return {"fields": fields, "criteria": criteria}, fields_info


def _validate_fields(check: _Checker, value: Any, path: Path, info: _Fields) -> list[Any]:
    fields = check.sequence(value, path)
    if fields is None:
        return []
    info.known = True
    out: list[Any] = []
    for index, item in enumerate(fields):
        place = (*path, index)
        field = check.mapping(item, place, FIELD_KEYS)
        if field is None:
            continue
        raw_name = check.required(field, "name", place)
        name = check.pattern(raw_name, (*place, "name"), FIELD_NAME, " (snake_case)")
        if name == SITE_STRATUM:
            check.add((*place, "name"), f"'{SITE_STRATUM}' is reserved for stratifying by site")
        elif name is not _INVALID and name in info.by_name:
            check.add((*place, "name"), f"duplicate field name '{name}'")
            name = _INVALID
        field_type = check.required(field, "type", place)
        if field_type is not _MISSING and (
            not isinstance(field_type, str) or field_type not in FIELD_TYPES
        ):
            check.add(
                (*place, "type"),
                f"must be one of {', '.join(FIELD_TYPES)}, got {describe(field_type)}",
            )
            field_type = _INVALID
        normalized: dict[str, Any] = {
            "name": name,
            "type": field_type,
            "label": check.text(check.required(field, "label", place), (*place, "label")),
        }
        for key in ("unit", "help"):
            extra = check.optional(field, key)
            normalized[key] = None if extra is _MISSING else check.text(extra, (*place, key))
        normalized["min"], normalized["max"] = _field_bounds(check, field, field_type, place)
        normalized["choices"] = _field_choices(check, field, field_type, place)
        out.append(normalized)
        # A badly spelled but string name still counts as declared: rules naming it should not
        # pile "unknown field" errors on top of the name's own error.
        lookup = name if name is not _INVALID else raw_name
        if isinstance(lookup, str) and lookup not in info.by_name:
            info.by_name[lookup] = {
                **normalized,
                "name": lookup,
                "type": field_type if field_type in FIELD_TYPES else None,
                "min": normalized["min"] if _is_number(normalized["min"]) else None,
                "max": normalized["max"] if _is_number(normalized["max"]) else None,
                "choices": normalized["choices"] if _is_list(normalized["choices"]) else None,
            }
    return out


def _field_bounds(
    check: _Checker, field: Mapping[Any, Any], field_type: Any, place: Path
) -> tuple[Any, Any]:
    bounds: dict[str, Any] = {}
    for key in ("min", "max"):
        bound = check.optional(field, key)
        if bound is _MISSING:
            bounds[key] = None
        elif field_type in NUMERIC_FIELD_TYPES or field_type is _INVALID or field_type is _MISSING:
            if field_type == "integer":
                bounds[key] = check.integer(bound, (*place, key))
            else:
                bounds[key] = check.number(bound, (*place, key))
        else:
            check.add(
                (*place, key), f"only allowed for integer and decimal fields, not {field_type}"
            )
            bounds[key] = _INVALID
    low, high = bounds["min"], bounds["max"]
    if _is_number(low) and _is_number(high) and low > high:
        check.add((*place, "max"), f"must be at least min ({low}), got {high}")
        return _INVALID, _INVALID  # rules are then not checked against contradictory bounds
    return low, high


def _field_choices(check: _Checker, field: Mapping[Any, Any], field_type: Any, place: Path) -> Any:
    choices = check.optional(field, "choices")
    path = (*place, "choices")
    if field_type == "choice":
        if choices is _MISSING:
            check.add(path, "required for choice fields")
            return _INVALID
    elif choices is _MISSING:
        return None
    elif field_type in FIELD_TYPES:
        check.add(path, f"only allowed for choice fields, not {field_type}")
        return _INVALID
    items = check.sequence(choices, path, non_empty=True)
    if items is None:
        return _INVALID
    out: list[Any] = []
    for index, item in enumerate(items):
        choice = check.text(item, (*path, index))
        if choice is not _INVALID and choice in out:
            check.add((*path, index), f"duplicate choice '{choice}'")
            choice = _INVALID
        out.append(choice)
    return _INVALID if _INVALID in out else out


def _validate_criteria(check: _Checker, value: Any, path: Path, fields: _Fields) -> list[Any]:
    criteria = check.sequence(value, path, non_empty=True)
    if criteria is None:
        return []
    out: list[Any] = []
    ids: set[str] = set()
    for index, item in enumerate(criteria):
        place = (*path, index)
        criterion = check.mapping(item, place, CRITERION_KEYS)
        if criterion is None:
            continue
        ident = check.pattern(check.required(criterion, "id", place), (*place, "id"), CRITERION_ID)
        if ident is not _INVALID:
            if ident in ids:
                check.add((*place, "id"), f"duplicate criterion id '{ident}'")
            ids.add(ident)
        kind = check.choice(
            check.required(criterion, "kind", place), (*place, "kind"), CRITERION_KINDS
        )
        text = check.text(check.required(criterion, "text", place), (*place, "text"))
        rule = check.required(criterion, "rule", place)
        if rule is not _MISSING and fields.known:
            rule_place = (*place, "rule")
            try:
                problems = rule_errors(rule, fields.by_name, _place(rule_place))
            except Exception as error:  # noqa: BLE001 - the contract is ProtocolError only
                problems = [f"{_place(rule_place)}: cannot be checked ({type(error).__name__})"]
            for problem in problems:
                check.add_placed(rule_place, problem)
        out.append({"id": ident, "kind": kind, "text": text, "rule": _plain(rule)})
    return out


def _validate_instruments(check: _Checker, value: Any) -> tuple[list[Any], set[str] | None]:
    """Normalized instruments and the declared codes (None when instruments is not a list)."""
    path: Path = ("instruments",)
    if value is _MISSING:
        return [], set()
    instruments = check.sequence(value, path)
    if instruments is None:
        return [], None
    out: list[Any] = []
    codes: set[str] = set()
    for index, item in enumerate(instruments):
        place = (*path, index)
        instrument = check.mapping(item, place, INSTRUMENT_KEYS)
        if instrument is None:
            continue
        raw_code = check.required(instrument, "code", place)
        code = check.pattern(raw_code, (*place, "code"), CODE)
        if code is not _INVALID and code in codes:
            check.add((*place, "code"), f"duplicate instrument code '{code}'")
        if isinstance(raw_code, str):
            codes.add(raw_code)  # declared, even if misspelled: no cascade onto the schedule
        label = check.text(check.required(instrument, "label", place), (*place, "label"))
        low = check.number(check.required(instrument, "min", place), (*place, "min"))
        high = check.number(check.required(instrument, "max", place), (*place, "max"))
        if _is_number(low) and _is_number(high) and low >= high:
            check.add((*place, "max"), f"must be above min ({low}), got {high}")
        worse = check.optional(instrument, "higher_is_worse")
        higher_is_worse = (
            DEFAULT_HIGHER_IS_WORSE
            if worse is _MISSING
            else check.boolean(worse, (*place, "higher_is_worse"))
        )
        out.append(
            {
                "code": code,
                "label": label,
                "min": low,
                "max": high,
                "higher_is_worse": higher_is_worse,
            }
        )
    return out, codes


def _validate_randomization(
    check: _Checker,
    value: Any,
    arm_codes: list[str] | None,
    arm_codes_complete: bool,
    fields: _Fields,
) -> Any:
    path: Path = ("randomization",)
    if value is _MISSING:
        if arm_codes is not None and len(arm_codes) > 1:
            check.add(path, "required when the trial has more than one arm")
        return None
    randomization = check.mapping(value, path, RANDOMIZATION_KEYS)
    if randomization is None:
        return _INVALID
    ratio = _validate_ratio(
        check,
        check.required(randomization, "ratio", path),
        (*path, "ratio"),
        arm_codes,
        arm_codes_complete,
    )
    total = sum(ratio.values()) if isinstance(ratio, dict) else None
    block_sizes: Any = _INVALID
    blocks = check.sequence(
        check.required(randomization, "block_sizes", path), (*path, "block_sizes"), non_empty=True
    )
    if blocks is not None:
        block_sizes = []
        for index, size in enumerate(blocks):
            place = (*path, "block_sizes", index)
            size = check.integer(size, place, minimum=1)
            if size is not _INVALID and total and size % total:
                check.add(place, f"{size} is not a multiple of the ratio total {total}")
            block_sizes.append(size)
    stratify_by = _validate_stratify_by(
        check, check.optional(randomization, "stratify_by"), (*path, "stratify_by"), fields
    )
    return {"ratio": ratio, "block_sizes": block_sizes, "stratify_by": stratify_by}


def _validate_ratio(
    check: _Checker, value: Any, path: Path, arm_codes: list[str] | None, arm_codes_complete: bool
) -> Any:
    """The ratio in arm order; _INVALID unless every arm has a valid ratio."""
    if value is _MISSING:
        return _INVALID
    if not isinstance(value, Mapping):
        check.add(
            path, f"must be a mapping of arm code to a positive integer, got {describe(value)}"
        )
        return _INVALID
    valid = True
    weights: dict[str, int] = {}
    for key, weight in value.items():
        place = (*path, _key_part(key))
        if arm_codes_complete and arm_codes is not None and key not in arm_codes:
            # (With an arm whose code is itself broken, the key may be meant for that arm.)
            check.add(place, "not an arm code")
            valid = False
            continue
        weight = check.integer(weight, place, minimum=1)
        if weight is _INVALID or not isinstance(key, str):
            valid = False
        else:
            weights[key] = weight
    if arm_codes is None:
        return _INVALID
    for code in arm_codes:
        if code not in value:
            check.add(path, f"missing arm '{code}'")
            valid = False
    if not (valid and arm_codes_complete):
        return _INVALID
    return {code: weights[code] for code in arm_codes}


def _validate_stratify_by(check: _Checker, value: Any, path: Path, fields: _Fields) -> Any:
    if value is _MISSING:
        return []
    items = check.sequence(value, path)
    if items is None:
        return _INVALID
    out: list[Any] = []
    for index, item in enumerate(items):
        place = (*path, index)
        name = check.text(item, place)
        if name is _INVALID:
            out.append(_INVALID)
            continue
        if name in out:
            check.add(place, f"duplicate '{name}'")
            name = _INVALID
        elif name != SITE_STRATUM and fields.known:
            field = fields.by_name.get(name)
            if field is None:
                check.add(place, f"'{name}' is neither 'site' nor a screening field")
                name = _INVALID
            elif field["type"] is not None and field["type"] not in STRATIFY_FIELD_TYPES:
                check.add(
                    place,
                    f"'{name}' is of type {field['type']}; only 'site' and choice or boolean "
                    "fields can stratify",
                )
                name = _INVALID
        out.append(name)
    return out


def _validate_schedule(check: _Checker, value: Any, instrument_codes: set[str] | None) -> list[Any]:
    path: Path = ("schedule",)
    events = check.sequence(_required_top(check, value, path), path, non_empty=True)
    if events is None:
        return []
    out: list[Any] = []
    codes: set[str] = set()
    dosing_codes: set[str] = set()
    for index, item in enumerate(events):
        place = (*path, index)
        event = check.mapping(item, place, EVENT_KEYS)
        if event is None:
            continue
        code = check.pattern(check.required(event, "code", place), (*place, "code"), CODE)
        if code == RANDOMIZATION_ANCHOR:
            check.add((*place, "code"), f"'{RANDOMIZATION_ANCHOR}' is reserved for the anchor")
            code = _INVALID
        elif code is not _INVALID and code in codes:
            check.add((*place, "code"), f"duplicate event code '{code}'")
        kind = check.choice(check.required(event, "kind", place), (*place, "kind"), EVENT_KINDS)
        label = check.text(check.required(event, "label", place), (*place, "label"))
        anchor = check.text(check.required(event, "anchor", place), (*place, "anchor"))
        if anchor is not _INVALID and anchor != RANDOMIZATION_ANCHOR and anchor not in dosing_codes:
            check.add((*place, "anchor"), f"'{anchor}' is not an earlier dosing event")
            anchor = _INVALID
        day = check.integer(check.required(event, "day", place), (*place, "day"))
        window = _validate_window(check, check.required(event, "window", place), (*place, "window"))
        instruments = _validate_event_instruments(
            check, check.optional(event, "instruments"), (*place, "instruments"), instrument_codes
        )
        if code is not _INVALID:
            codes.add(code)
            if kind == "dosing":
                dosing_codes.add(code)
        out.append(
            {
                "code": code,
                "kind": kind,
                "label": label,
                "anchor": anchor,
                "day": day,
                "window": window,
                "instruments": instruments,
            }
        )
    return out


def _validate_window(check: _Checker, value: Any, path: Path) -> Any:
    """[early, late] with early <= 0 <= late (so early <= late), both inclusive."""
    if value is _MISSING:
        return _INVALID
    if not _is_list(value) or len(value) != 2:
        check.add(path, f"must be a list [early, late] of two integers, got {describe(value)}")
        return _INVALID
    early = check.integer(value[0], (*path, 0))
    late = check.integer(value[1], (*path, 1))
    if early is not _INVALID and early > 0:
        check.add((*path, 0), f"early must be 0 or less, got {early}")
        early = _INVALID
    if late is not _INVALID and late < 0:
        check.add((*path, 1), f"late must be 0 or more, got {late}")
        late = _INVALID
    return [early, late]


def _validate_event_instruments(
    check: _Checker, value: Any, path: Path, declared: set[str] | None
) -> Any:
    if value is _MISSING:
        return []
    items = check.sequence(value, path)
    if items is None:
        return _INVALID
    out: list[Any] = []
    for index, item in enumerate(items):
        code = check.text(item, (*path, index))
        if code is not _INVALID:
            if code in out:
                check.add((*path, index), f"duplicate instrument '{code}'")
                code = _INVALID
            elif declared is not None and code not in declared:
                check.add((*path, index), f"'{code}' is not a declared instrument")
                code = _INVALID
        out.append(code)
    return out


# Public API ------------------------------------------------------------------------------------


def validate_protocol(document: object) -> dict[str, Any]:
    """Return the normalized protocol (defaults filled in), or raise ProtocolError listing every
    error found, in file order."""
    fatal, leaf = _structure_problems(document)
    if fatal:
        raise ProtocolError(fatal)
    if not isinstance(document, Mapping):
        raise ProtocolError(
            f"{FILE_PLACE}: the top level must be a mapping, got {describe(document)}"
        )
    check = _Checker()
    check.mapping(document, (), TOP_LEVEL_KEYS)

    raw_format = document.get("format", _MISSING)
    if raw_format is _MISSING:
        check.add(("format",), "required")
    elif not _is_int(raw_format) or raw_format != FORMAT_VERSION:
        check.add(
            ("format",),
            f"must be the integer {FORMAT_VERSION}, got {describe(raw_format)}"
            + (" (a later format: upgrade Dyad)" if _is_int(raw_format) and raw_format > 1 else ""),
        )

    raw_trial = document.get("trial", _MISSING)
    trial = (
        _validate_trial(check, raw_trial)
        if _required_top(check, raw_trial, ("trial",)) is not _MISSING
        else {}
    )
    arms, arm_codes, arm_codes_complete = _validate_arms(check, document.get("arms", _MISSING))
    screening, fields = _validate_screening(check, document.get("screening", _MISSING))
    instruments, instrument_codes = _validate_instruments(
        check, check.optional(document, "instruments")
    )
    randomization = _validate_randomization(
        check, check.optional(document, "randomization"), arm_codes, arm_codes_complete, fields
    )
    schedule = _validate_schedule(check, document.get("schedule", _MISSING), instrument_codes)

    # A leaf problem (NaN, a huge integer, a foreign type) is only worth reporting where no more
    # specific error already covers its place: mostly inside rule values, which are free-form.
    covered = [text.split(": ", 1)[0] for _, text in check.errors]
    found = list(check.errors)
    for path, message in leaf:
        place = _place(path)
        if not any(place == c or place.startswith((f"{c}.", f"{c}[")) for c in covered):
            found.append((path, f"{place}: {message}"))
    if found:
        ordered = sorted(
            enumerate(found), key=lambda item: (_position(document, item[1][0]), item[0])
        )
        unique: list[str] = []
        for _, (_, text) in ordered:
            if text not in unique:
                unique.append(text)
        raise ProtocolError(unique)
    return {
        "format": FORMAT_VERSION,
        "trial": trial,
        "arms": arms,
        "randomization": randomization,
        "screening": screening,
        "schedule": schedule,
        "instruments": instruments,
    }
