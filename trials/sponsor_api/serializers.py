"""The sponsor API's response shapes: the trials list, and one row shape per export resource.

Row serializers are built from the allowlists in sponsor_api/exports.py, so the schema shows exactly
the columns an export carries. They describe rows; rows themselves are made by sponsor_api.exports.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from trials.sponsor_api import exports
from trials.sponsor_api.exports import Column, Resource
from trials.sponsor_api.services import JOB_FORMATS
from trials.study.models import Trial


class TrialSerializer(serializers.ModelSerializer):
    sites = serializers.SerializerMethodField(help_text="Codes of the sites taking part.")

    class Meta:
        model = Trial
        fields = [
            "code",
            "title",
            "indication",
            "compound",
            "phase",
            "open_label",
            "target_enrollment",
            "sites",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_sites(self, trial: Trial) -> list[str]:
        return [trial_site.site.code for trial_site in trial.trial_sites.all()]


def _field_for(resource: Resource, column: Column) -> serializers.Field:
    if column.kind in ("pseudonym", "date") or column.name == "age_at_consent":
        return serializers.CharField(allow_null=True)
    if column.kind == "list":
        return serializers.ListField(child=serializers.CharField())
    model = resource.model()
    try:
        for part in column.source.split("__")[:-1]:
            # None (not a relation) fails on the next lookup, which is caught below.
            model = cast(type[models.Model], model._meta.get_field(part).related_model)
        field = model._meta.get_field(column.source.split("__")[-1])
    except Exception:
        field = models.BooleanField()  # annotations: `reviewed`
    if isinstance(field, models.BooleanField):
        return serializers.BooleanField(allow_null=True)
    if isinstance(field, models.IntegerField):
        return serializers.IntegerField(allow_null=True)
    return serializers.CharField(allow_null=True)


def row_serializer(resource: Resource) -> type[serializers.Serializer]:
    """A serializer describing one row of the resource (for the schema)."""
    fields = {column.name: _field_for(resource, column) for column in resource.columns}
    name = "".join(part.title() for part in resource.name.split("-")) + "Row"
    return type(name, (serializers.Serializer,), {**fields, "__doc__": resource.description})


class ExportJobRequestSerializer(serializers.Serializer):
    """What a job exports; the filters are the listing's (`exports.validate_params`)."""

    resource = serializers.ChoiceField(choices=())
    format = serializers.ChoiceField(choices=JOB_FORMATS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(serializers.ChoiceField, self.fields["resource"]).choices = sorted(exports.RESOURCES)


def export_job_request(trial: Trial, data: Any) -> tuple[str, str, dict[str, Any]]:
    """(resource, format, filters as JSON) from a job request's body; the API's 400 by field."""
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
    errors: dict[str, Any] = {}
    request = ExportJobRequestSerializer(data=data)
    if not request.is_valid():
        errors.update(request.errors)
    filters = {name: data.get(name) for name in exports.PARAM_NAMES if name != "format"}
    try:
        params = exports.validate_params(trial=trial, params=filters)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise serializers.ValidationError(errors)
    values = {name: _json_value(getattr(params, name)) for name in filters}
    stored = {name: value for name, value in values.items() if value is not None}
    return request.validated_data["resource"], request.validated_data["format"], stored


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.date) else value
