"""Reading a protocol file's text: YAML or JSON, duplicate keys refused, errors as ProtocolError."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

import yaml

# Larger integers are refused everywhere: no protocol needs them, and Python will not even print
# one beyond 4300 digits (so neither messages nor canonical JSON could show it).
MAX_INTEGER = 10**15


FILE_PLACE = "(file)"


class ProtocolError(ValueError):
    """A protocol file that cannot be used; ``errors`` lists every problem as "place: message"."""

    def __init__(self, errors: list[str] | tuple[str, ...] | str) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(self.errors)


# Parsing ---------------------------------------------------------------------------------------


class _DuplicateKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and turns constructor crashes into marked errors."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError) as error:
            # For example "2024-13-45" (a timestamp with an impossible month) or a huge integer.
            if isinstance(node, yaml.ScalarNode):
                problem = f"invalid value {describe(node.value)}: {error}"
            else:
                problem = str(error) or type(error).__name__
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in with "<<" may legitimately be overridden
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        "found duplicate key "
                        + (describe(key) if isinstance(key, str) else show_key(key)),
                        key_node.start_mark,
                    )
                seen.add(key)
        # Any other node goes to the base class, which reports it; its stubs take mappings only.
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def _line_of(text: str, position: int) -> int:
    """Line number (1-based) of a character position."""
    return text.count("\n", 0, max(position, 0)) + 1


def _yaml_message(error: Exception, text: str) -> str:
    """One-line description of a PyYAML error, with the line and column it gives."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        context = ""
        if error.context and error.problem:
            context_mark = error.context_mark
            context = f" ({error.context}"
            if context_mark is not None and (mark is None or context_mark.line != mark.line):
                context += f" started on line {context_mark.line + 1}"
            context += ")"
        return f"{where}{problem}{context}"
    if isinstance(error, yaml.reader.ReaderError):
        return (
            f"line {_line_of(text, error.position)}: "
            f"unacceptable character {chr(error.character)!r}"
            if isinstance(error.character, int)
            else f"line {_line_of(text, error.position)}: {error.reason}"
        )
    return " ".join(str(error).split()) or "invalid YAML"


def _load_yaml(text: str) -> Any:
    """Parse YAML text or raise ProtocolError."""
    try:
        return yaml.load(text, Loader=_DuplicateKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ProtocolError(f"{FILE_PLACE}: nesting is too deep") from None
    except yaml.YAMLError as error:
        raise ProtocolError(f"{FILE_PLACE}: {_yaml_message(error, text)}") from None
    except Exception as error:  # noqa: BLE001 - the contract is ProtocolError only
        raise ProtocolError(f"{FILE_PLACE}: cannot be read as YAML: {error}") from None


class _JSONProblem(Exception):
    """A JSON parse problem, already worded."""


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JSONProblem(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_constant(name: str) -> Any:
    raise _JSONProblem(f"{name} is not a valid JSON number")


def _load_json(text: str) -> Any:
    """Parse JSON text or raise _JSONProblem with a worded message."""
    try:
        return json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant)
    except json.JSONDecodeError as error:
        raise _JSONProblem(f"line {error.lineno}, column {error.colno}: {error.msg}") from None
    except RecursionError:
        raise _JSONProblem("nesting is too deep") from None
    except _JSONProblem:
        raise
    except Exception as error:  # noqa: BLE001 - e.g. an integer with too many digits
        raise _JSONProblem(str(error) or "invalid JSON") from None


def parse_protocol(content: str | bytes, *, filename: str = "") -> dict[str, Any]:
    """Read YAML or JSON text into a mapping, or raise ProtocolError("(file): ...").

    JSON is tried first when the filename ends in ``.json`` (and then only JSON) or the text starts
    with ``{`` (falling back to YAML, which also reads flow mappings such as ``{format: 1, ...}``).
    Syntax errors carry the line (and column) the parser gives.
    """
    if isinstance(content, (bytes, bytearray, memoryview)):
        try:
            text = bytes(content).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ProtocolError(
                f"{FILE_PLACE}: not UTF-8 text (invalid byte at offset {error.start})"
            ) from None
    elif isinstance(content, str):
        text = content.removeprefix("\ufeff")
    else:
        raise ProtocolError(f"{FILE_PLACE}: expected text, got {type(content).__name__}")
    if not text.strip():
        raise ProtocolError(f"{FILE_PLACE}: the file is empty")
    is_json_file = str(filename).lower().endswith(".json")
    if is_json_file or text.lstrip().startswith("{"):
        try:
            data = _load_json(text)
        except _JSONProblem as problem:
            if is_json_file:
                raise ProtocolError(f"{FILE_PLACE}: {problem}") from None
            data = _load_yaml(text)
    else:
        data = _load_yaml(text)
    if data is None:
        raise ProtocolError(f"{FILE_PLACE}: the file contains no data")
    if not isinstance(data, dict):
        raise ProtocolError(f"{FILE_PLACE}: the top level must be a mapping, got {describe(data)}")
    return data


def show_key(key: Any) -> str:
    """An odd mapping key as it may appear in a place: quoted text, a number, true, null..."""
    if isinstance(key, str):
        shown = json.dumps(key, ensure_ascii=False)
    elif key is None or isinstance(key, (int, float)):
        shown = describe(key)  # bools included: true/false, as in the file
    else:
        try:
            shown = repr(key)
        except Exception:  # noqa: BLE001 - e.g. a tuple holding a huge integer
            shown = f"<{type(key).__name__}>"
    return shown if len(shown) <= 40 else shown[:37] + "..."


def describe(value: object) -> str:
    """Short description of a value for 'got ...'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) <= MAX_INTEGER else "a very large integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    if isinstance(value, datetime.datetime):
        return f"date-time {value.isoformat()}"
    if isinstance(value, datetime.date):
        return f"date {value.isoformat()}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a value of type {type(value).__name__}"
