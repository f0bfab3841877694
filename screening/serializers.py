"""The shapes of eligibility requests and verdicts, for the API and the dry-run command."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty

from screening import rules

JSON_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "true/false"),
    ((int, float), "a number"),
    (str, "a string"),
    (list, "an array"),
    (Mapping, "an object"),
)


def json_kind(value: object) -> str:
    """What kind of JSON value this is, in words for an error message."""
    for types, kind in JSON_KINDS:
        if isinstance(value, types):
            return kind
    return "null" if value is None else type(value).__name__


@extend_schema_field(
    {
        "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
        "nullable": True,
        "description": "One value: a string (dates as YYYY-MM-DD), a number or true/false.",
    }
)
class ScreeningValueField(serializers.Field):
    """One screening value as JSON sends it: a string, a number or true/false, never a structure.

    Whether it suits its field (type, range, choices) is for the protocol to say.
    """

    default_error_messages = {
        "not_a_value": "Expected a single value (a string, a number or true/false), got {kind}.",
    }

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str | int | float):
            self.fail("not_a_value", kind=json_kind(data))
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class ScreeningDataField(serializers.DictField):
    """Screening data: a JSON object of field name to value (null means not known)."""

    default_error_messages = {
        "not_a_dict": "Expected an object {{field name: value}}, got {input_type}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=ScreeningValueField(allow_null=True), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=json_kind(data))
        return super().to_internal_value(data)


class CandidateIdField(serializers.Field):
    """A candidate's id in a dry-run file: a string or an integer, echoed back as given."""

    default_error_messages = {"not_an_id": "Expected a string or an integer, got {kind}."}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("not_an_id", kind=json_kind(data))
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class JSONObjectSerializer(serializers.Serializer):
    """A serializer whose input must be a JSON object; anything else is an error on each field."""

    expected_shape = "{}"

    def run_validation(self, data: Any = empty) -> Any:
        if data is not empty and not isinstance(data, Mapping):
            message = f"Expected a JSON object {self.expected_shape}, got {json_kind(data)}."
            # The fields iterate as their names; drf-stubs say Field.
            raise ValidationError({name: [message] for name in self.fields})  # type: ignore[misc]
        return super().run_validation(data)


class EligibilityRequestSerializer(JSONObjectSerializer):
    """A pre-screen request: {"data": {field name: value}}."""

    expected_shape = '{"data": {field name: value}}'

    # DRF's metaclass takes declared fields out of the class: `data` stays the property.
    data = ScreeningDataField()  # type: ignore[assignment]


class CandidateSerializer(JSONObjectSerializer):
    """One candidate in a dry-run file: {"id": ..., "data": {field name: value}}."""

    expected_shape = '{"id": ..., "data": {field name: value}}'

    id = CandidateIdField()
    data = ScreeningDataField()  # type: ignore[assignment]  # a declared field, as above


class EligibilityVerdictSerializer(serializers.Serializer):
    """A verdict as `check_eligibility` gives it: result, criteria failed or unknown, and why."""

    result = serializers.ChoiceField(
        choices=[rules.ELIGIBLE, rules.INELIGIBLE, rules.INCOMPLETE], read_only=True
    )
    failed = serializers.ListField(child=serializers.CharField(), read_only=True)
    missing = serializers.ListField(child=serializers.CharField(), read_only=True)
    missing_fields = serializers.ListField(child=serializers.CharField(), read_only=True)
    protocol_version = serializers.IntegerField(read_only=True)
