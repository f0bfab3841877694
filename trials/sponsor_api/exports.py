"""Sponsor exports: what each resource holds, pseudonymized, in one place for every format.

Each resource is an ALLOWLIST of columns read with `.values_list()`: a column not listed here
never leaves the database. Participants are named by their sponsor pseudonym, sites by code,
visits by event code; every date is reduced by the sponsor's export profile. The JSON pages
of the API, its CSV and NDJSON streams and the background export jobs all read these
definitions through `export_rows` / `export_stream`. Apps built on trials define their own
resources and add them with `register_resource` (screening/exports.py).

CSV streams of resources made only of plain, date and pseudonym columns come straight from
PostgreSQL's `COPY (SELECT ...) TO STDOUT`, with the same reduction done in the SELECT and the
pseudonyms computed by `sponsor_api.pseudonyms` and handed to the query as a map: the same bytes as
the Python path, many times faster (tests/api/test_exports_formats.py holds them equal).
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import ExpressionWrapper, OuterRef, Q, Subquery
from rest_framework import serializers

from trials.enrollment.models import AllocationSlot, Consent, StudyExit
from trials.participants.models import Participant
from trials.safety.models import AdverseEvent, Assessment
from trials.sessions.models import DosingSession, EventKind, TherapySession, VitalSign
from trials.sponsor_api.pseudonyms import SAFE_HARBOR, age_category, pseudonym, reduce_date
from trials.study.models import SITE_CODE_PATTERN, Role, Sponsor, Trial, TrialSite
from trials.study.permissions import may_see_arm

FORMATS = ("json", "csv", "ndjson")
STREAM_FORMATS = ("csv", "ndjson", "json")
CHUNK_SIZE = 2000
STREAM_BUFFER = 64 * 1024
# The COPY path's lookup of pseudonyms: a temporary table, dropped at commit.
PSEUDONYM_TABLE = "dyad_export_pseudonyms"

# --- columns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One exported column: its name and the `.values_list()` path it is read from."""

    name: str
    source: str
    kind: str = "plain"  # plain | date | pseudonym | list | hidden

    def sql(self, ref: str, profile: str, *, is_time: bool = True) -> str:
        """The column as a SQL expression over `ref`, the same text as the Python path's CSV."""
        if self.kind == "hidden":
            return "NULL"
        if self.kind == "list":
            return f"NULLIF(array_to_string({ref}, ';'), '')"
        if self.kind == "date":
            return _date_sql(ref, profile, is_time=is_time)
        if self.kind == "pseudonym":  # joined by copy_sql as `{ref}_p`
            return f"{ref.replace('.', '_')}_p.pseudonym"
        return ref


def _date_sql(ref: str, profile: str, *, is_time: bool) -> str:
    """`reduce_date` in SQL: the year, or the day, or the UTC time in ISO 8601."""
    if not is_time:
        return (
            f"to_char({ref}, 'YYYY')" if profile == SAFE_HARBOR else f"to_char({ref}, 'YYYY-MM-DD')"
        )
    utc = f"({ref} AT TIME ZONE 'UTC')"
    if profile == SAFE_HARBOR:
        return f"to_char({utc}, 'YYYY')"
    # Python's isoformat() writes microseconds only when there are some: one to_char, then
    # drop an all-zero fraction (cheaper than a second to_char and an extract per value).
    return f"replace(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || 'Z'"


def is_time_column(model: type[models.Model], path: str) -> bool:
    """True unless the path leads to a DateField (annotations are times)."""
    parts = path.split("__")
    try:
        for part in parts[:-1]:
            # None (not a relation) fails on the next lookup, which is caught below.
            model = cast(type[models.Model], model._meta.get_field(part).related_model)
        field_ = model._meta.get_field(parts[-1])
    except Exception:
        return True
    return not (
        isinstance(field_, models.DateField) and not isinstance(field_, models.DateTimeField)
    )


def plain(name: str, source: str | None = None) -> Column:
    return Column(name, source or name)


def date(name: str, source: str | None = None) -> Column:
    return Column(name, source or name, "date")


# --- resources ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """An exportable resource: its rows for a trial, its columns, its main date."""

    name: str
    model: Callable[[], type[models.Model]]
    participant: str  # path to the participant's id
    date_field: str  # the main date, for date_from / date_to
    columns: tuple[Column, ...]
    trial_filter: str = "participant__trial"
    extra: Callable[[models.QuerySet], models.QuerySet] = lambda queryset: queryset
    transform: Callable[[dict[str, Any], tuple[Any, ...], ExportContext], None] | None = None
    # Read for `transform` only, never exported.
    hidden_sources: tuple[str, ...] = ()
    description: str = ""

    @property
    def site_path(self) -> str:
        return _site_path(self.participant)

    def columns_for(self, context: ExportContext) -> tuple[Column, ...]:
        if self.name != "allocations" or context.arm_visible:
            return self.columns
        return tuple(
            Column(c.name, c.source, "hidden") if c.name == "arm" else c for c in self.columns
        )

    def queryset(self, trial: Trial) -> models.QuerySet:
        queryset = self.model()._default_manager.filter(**{self.trial_filter: trial})
        return self.extra(queryset).order_by("pk")


@dataclass
class ExportContext:
    sponsor: Sponsor
    trial: Trial
    profile: str
    arm_visible: bool
    _pseudonym: Callable[[int], str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pseudonym = lru_cache(maxsize=65_536)(
            lambda participant_id: pseudonym(self.sponsor.pseudonym_secret, participant_id)
        )

    def pseudonym(self, participant_id: int | None) -> str | None:
        return None if participant_id is None else self._pseudonym(participant_id)


def _site_path(participant: str) -> str:
    """`participant_id` -> `participant__site__code`; a participant's own `id` -> `site__code`."""
    return "site__code" if participant == "id" else f"{participant.removesuffix('_id')}__site__code"


def participant_site(participant: str) -> tuple[Column, Column]:
    """The participant's pseudonym and site code, the first two columns of every resource."""
    return Column("participant", participant, "pseudonym"), plain("site", _site_path(participant))


def _participants_extra(queryset: models.QuerySet) -> models.QuerySet:
    first_consent = Consent.objects.filter(participant=OuterRef("pk")).order_by("consented_at")
    first_consented_at = Subquery(first_consent.values("consented_at")[:1])
    return queryset.annotate(
        first_consented_at=first_consented_at, age_reference=first_consented_at
    )


def _participants_transform(row: dict[str, Any], hidden: tuple[Any, ...], context: Any) -> None:
    """Age at first consent, in UTC days, ages from 90 as '90+': the birth date stays here."""
    born, first_consent = hidden
    on = first_consent.astimezone(datetime.UTC).date() if first_consent else None
    row["age_at_consent"] = age_category(born, on)


def _reviewed(queryset: models.QuerySet) -> models.QuerySet:
    return queryset.annotate(
        reviewed=ExpressionWrapper(
            Q(review_signature__isnull=False), output_field=models.BooleanField()
        )
    )


RESOURCE_LIST = (
    Resource(
        name="participants",
        model=lambda: Participant,
        participant="id",
        trial_filter="trial",
        date_field="created_at",
        extra=_participants_extra,
        columns=(
            *participant_site("id"),
            plain("status"),
            date("registered_at", "created_at"),
            date("status_changed_at"),
            date("first_consented_at"),
            Column("age_at_consent", "first_consented_at", "hidden"),
            date("updated_at"),
        ),
        hidden_sources=("contact__date_of_birth", "age_reference"),
        transform=_participants_transform,
        description="Participants of the trial; age at first consent, never the birth date.",
    ),
    Resource(
        name="consents",
        model=lambda: Consent,
        participant="participant_id",
        date_field="consented_at",
        columns=(
            *participant_site("participant_id"),
            plain("form_version", "form_version__label"),
            date("consented_at"),
            plain("participant_confirmed"),
            date("updated_at"),
        ),
        description="Consents, by form version.",
    ),
    Resource(
        name="allocations",
        model=lambda: AllocationSlot,
        participant="participant_id",
        trial_filter="allocation_list__trial",
        date_field="allocated_at",
        extra=lambda queryset: queryset.filter(participant__isnull=False),
        columns=(
            *participant_site("participant_id"),
            plain("stratum", "allocation_list__stratum"),
            date("allocated_at"),
            plain("arm", "arm__code"),
            date("updated_at"),
        ),
        description="Randomization: the arm only in open-label trials, otherwise null.",
    ),
    Resource(
        name="dosing-sessions",
        model=lambda: DosingSession,
        participant="participant_id",
        date_field="dosed_at",
        columns=(
            *participant_site("participant_id"),
            plain("visit", "visit__event_code"),
            plain("status"),
            plain("eligibility_confirmed"),
            plain("consent_current"),
            plain("medications_stopped"),
            plain("washout_days"),
            plain("pregnancy_test"),
            plain("predose_systolic"),
            plain("predose_diastolic"),
            plain("predose_heart_rate"),
            plain("predose_temperature"),
            plain("route"),
            date("dosed_at"),
            date("supplemental_dosed_at"),
            date("ended_at"),
            plain("release_alert_and_oriented"),
            plain("release_vitals_stable"),
            plain("release_escort_arranged"),
            date("updated_at"),
        ),
        description="Dosing sessions: checks, dose times and release; no kit, lot or notes.",
    ),
    Resource(
        name="vitals",
        model=lambda: VitalSign,
        participant="participant_id",
        date_field="measured_at",
        columns=(
            *participant_site("participant_id"),
            plain("visit", "dosing_session__visit__event_code"),
            date("measured_at"),
            plain("systolic"),
            plain("diastolic"),
            plain("heart_rate"),
            plain("temperature"),
            date("updated_at"),
        ),
        description="Vital signs measured during dosing sessions.",
    ),
    Resource(
        name="integration-sessions",
        model=lambda: TherapySession,
        participant="participant_id",
        date_field="started_at",
        extra=lambda queryset: queryset.filter(visit__kind=EventKind.INTEGRATION),
        columns=(
            *participant_site("participant_id"),
            plain("visit", "visit__event_code"),
            plain("attended"),
            date("started_at"),
            plain("duration_minutes"),
            date("updated_at"),
        ),
        description="Integration sessions: attended or not, when, how long; never the notes.",
    ),
    Resource(
        name="assessments",
        model=lambda: Assessment,
        participant="participant_id",
        date_field="assessed_at",
        columns=(
            *participant_site("participant_id"),
            plain("visit", "visit__event_code"),
            plain("instrument"),
            plain("score"),
            date("assessed_at"),
            date("updated_at"),
        ),
        description="Rating-scale totals.",
    ),
    Resource(
        name="adverse-events",
        model=lambda: AdverseEvent,
        participant="participant_id",
        date_field="onset_at",
        extra=_reviewed,
        columns=(
            *participant_site("participant_id"),
            plain("dosing_visit", "dosing_session__visit__event_code"),
            plain("term"),
            date("onset_at"),
            date("ended_at"),
            plain("severity"),
            plain("results_in_death"),
            plain("life_threatening"),
            plain("hospitalization"),
            plain("disability"),
            plain("congenital_anomaly"),
            plain("other_important_event"),
            plain("relatedness"),
            plain("action_taken"),
            plain("outcome"),
            plain("reviewed"),
            date("updated_at"),
        ),
        description="Adverse events with seriousness, relatedness and outcome; no narrative.",
    ),
    Resource(
        name="withdrawals",
        model=lambda: StudyExit,
        participant="participant_id",
        date_field="exited_on",
        columns=(
            *participant_site("participant_id"),
            plain("kind"),
            plain("reason"),
            date("exited_on"),
            date("updated_at"),
        ),
        description="How and why participants left the study; never the details text.",
    ),
)
RESOURCES: dict[str, Resource] = {resource.name: resource for resource in RESOURCE_LIST}


def register_resource(resource: Resource, *, after: str) -> None:
    """Add an export resource defined by an app built on trials (screening: its screening log).

    Trials never reads another app's tables (DESIGN.md): that app defines the resource and
    registers it from its `AppConfig.ready()`, before any URL, schema or export reads
    RESOURCES; `after` names the resource it follows in the API. Registering it again is a
    no-op; another resource under a taken name is an error.
    """
    if RESOURCES.get(resource.name) is resource:
        return
    if resource.name in RESOURCES:
        raise ValueError(f"An export resource is already named {resource.name!r}.")
    entries = list(RESOURCES.items())
    position = [name for name, _ in entries].index(after) + 1
    entries.insert(position, (resource.name, resource))
    # In place: modules that imported RESOURCES hold this very dict.
    RESOURCES.clear()
    RESOURCES.update(entries)


# --- parameters --------------------------------------------------------------------------------


class ExportParamsSerializer(serializers.Serializer):
    """The query parameters every export takes; a bad one is a field error naming it."""

    format = serializers.ChoiceField(
        choices=FORMATS, required=False, default="json", help_text="json (paged), csv or ndjson"
    )
    updated_since = serializers.DateTimeField(
        required=False, help_text="Only rows written at or after this time (ISO 8601)."
    )
    site = serializers.RegexField(
        SITE_CODE_PATTERN, max_length=12, required=False, help_text="A site code, e.g. LON."
    )
    date_from = serializers.DateField(
        required=False, help_text="The resource's main date on or after this day (YYYY-MM-DD)."
    )
    date_to = serializers.DateField(
        required=False, help_text="The resource's main date on or before this day (YYYY-MM-DD)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("date_from"), attrs.get("date_to")
        if first and last and first > last:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        trial = self.context.get("trial")
        if trial is not None and trial.sponsor.export_profile == Sponsor.ExportProfile.SAFE_HARBOR:
            # Dates are years under Safe Harbor: a finer filter would reveal the day by bisection.
            errors = {}
            if first and (first.month, first.day) != (1, 1):
                errors["date_from"] = ["Under the Safe Harbor profile, give a year: YYYY-01-01."]
            if last and (last.month, last.day) != (12, 31):
                errors["date_to"] = ["Under the Safe Harbor profile, give a year: YYYY-12-31."]
            if errors:
                raise serializers.ValidationError(errors)
        if attrs.get("site") and trial is not None:
            taking_part = TrialSite.objects.filter(trial=trial, site__code=attrs["site"])
            if not taking_part.exists():
                raise serializers.ValidationError({"site": ["Not a site of this trial."]})
        return attrs


@dataclass(frozen=True)
class ExportParams:
    format: str = "json"
    updated_since: datetime.datetime | None = None
    site: str | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None


PARAM_NAMES = tuple(ExportParamsSerializer().fields)


def validate_params(*, trial: Trial, params: Mapping[str, Any] | ExportParams) -> ExportParams:
    """Clean raw query parameters; raises ValidationError {param: [errors]}."""
    if isinstance(params, ExportParams):
        return params
    data = {name: params[name] for name in PARAM_NAMES if params.get(name) not in (None, "")}
    serializer = ExportParamsSerializer(data=data, context={"trial": trial})
    if not serializer.is_valid():
        raise ValidationError({name: list(errors) for name, errors in serializer.errors.items()})
    return ExportParams(**serializer.validated_data)


# --- rows --------------------------------------------------------------------------------------


def export_context(*, sponsor: Sponsor, trial: Trial) -> ExportContext:
    if trial.sponsor_id != sponsor.pk:
        raise ValueError("A sponsor exports only its own trials.")
    arm_visible = may_see_arm(frozenset({Role.SPONSOR}), Participant(trial=trial), unblinded=False)
    return ExportContext(sponsor, trial, sponsor.export_profile, arm_visible)


def filtered_queryset(resource: Resource, trial: Trial, params: ExportParams) -> models.QuerySet:
    """The resource's rows for the trial, narrowed by the parameters, in primary key order."""
    queryset = resource.queryset(trial)
    if params.site:
        queryset = queryset.filter(**{resource.site_path: params.site})
    if params.updated_since:
        queryset = queryset.filter(updated_at__gte=params.updated_since)
    lookup = resource.date_field
    if is_time_column(resource.model(), lookup):
        lookup += "__date"
    if params.date_from:
        queryset = queryset.filter(**{f"{lookup}__gte": params.date_from})
    if params.date_to:
        queryset = queryset.filter(**{f"{lookup}__lte": params.date_to})
    return queryset


def row_values(resource: Resource, queryset: models.QuerySet) -> models.QuerySet:
    """The queryset as tuples of the columns' sources, then the hidden sources."""
    sources = [column.source for column in resource.columns] + list(resource.hidden_sources)
    return queryset.values_list(*sources)


def _keep_or_text(value: Any) -> Any:
    return str(value) if isinstance(value, decimal.Decimal) else value


def _converter(column: Column, context: ExportContext) -> Callable[[Any], Any]:
    """How one column's stored value becomes its exported value."""
    if column.kind == "pseudonym":
        return context.pseudonym
    if column.kind == "date":
        profile = context.profile
        return lambda value: reduce_date(value, profile)
    if column.kind == "hidden":
        return lambda value: None
    if column.kind == "list":
        return lambda value: list(value or ())
    return _keep_or_text


def row_maker(
    resource: Resource, context: ExportContext
) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    """A function turning one `row_values` tuple into the exported row."""
    columns = resource.columns_for(context)
    count = len(columns)
    names = [column.name for column in columns]
    converters = [_converter(column, context) for column in columns]
    transform = resource.transform

    def make(values: tuple[Any, ...]) -> dict[str, Any]:
        # `values` may hold hidden sources after the columns: zip stops at the columns.
        row = {
            name: convert(value)
            for name, convert, value in zip(names, converters, values, strict=False)
        }
        if transform is not None:
            transform(row, values[count:], context)
        return row

    return make


def export_rows(
    *, sponsor: Sponsor, trial: Trial, resource: str, params: Mapping[str, Any] | ExportParams
) -> Iterator[dict[str, Any]]:
    """Every row of the resource for the trial, pseudonymized, read in chunks from a cursor."""
    definition = RESOURCES[resource]
    context = export_context(sponsor=sponsor, trial=trial)
    cleaned = validate_params(trial=trial, params=params)
    make = row_maker(definition, context)
    queryset = row_values(definition, filtered_queryset(definition, trial, cleaned))
    for values in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield make(values)


def column_names(resource: str) -> list[str]:
    return [column.name for column in RESOURCES[resource].columns]


# --- streams -----------------------------------------------------------------------------------


class ExportStream:
    """The bytes of an export; `rows` counts the rows written so far."""

    def __init__(self, chunks: Callable[[ExportStream], Iterator[bytes]]) -> None:
        self.rows = 0
        self._chunks = chunks(self)

    def __iter__(self) -> ExportStream:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()  # type: ignore[attr-defined]  # the chunks come from a generator


def export_stream(
    *,
    sponsor: Sponsor,
    trial: Trial,
    resource: str,
    fmt: str,
    params: Mapping[str, Any] | ExportParams,
) -> ExportStream:
    """The whole export as a file (csv, ndjson or a json array), in constant memory."""
    if fmt not in STREAM_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}.")
    definition = RESOURCES[resource]
    cleaned = validate_params(trial=trial, params=params)
    if fmt == "csv" and definition.transform is None:
        return ExportStream(lambda stream: _copy_csv(stream, sponsor, trial, definition, cleaned))
    rows = export_rows(sponsor=sponsor, trial=trial, resource=resource, params=cleaned)
    writers = {"csv": _python_csv, "ndjson": _ndjson, "json": _json_array}
    return ExportStream(lambda stream: writers[fmt](stream, definition, rows))


def _buffered(stream: ExportStream, pieces: Iterator[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    for piece in pieces:
        buffer.write(piece)
        stream.rows += 1
        if buffer.tell() >= STREAM_BUFFER:
            yield buffer.getvalue().encode()
            buffer = io.StringIO()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"Not JSON: {type(value).__name__}")


def _ndjson(stream: ExportStream, resource: Resource, rows: Iterator[dict]) -> Iterator[bytes]:
    lines = (json.dumps(row, default=_json_default) + "\n" for row in rows)
    yield from _buffered(stream, lines)


def _json_array(stream: ExportStream, resource: Resource, rows: Iterator[dict]) -> Iterator[bytes]:
    yield b"["
    items = (
        ("," if index else "") + json.dumps(row, default=_json_default)
        for index, row in enumerate(rows)
    )
    yield from _buffered(stream, items)
    yield b"]\n"


def csv_value(value: Any) -> Any:
    """How a value is written in CSV: lists joined by ';', booleans as PostgreSQL writes them."""
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    if isinstance(value, bool):
        return "t" if value else "f"
    return value


def _python_csv(stream: ExportStream, resource: Resource, rows: Iterator[dict]) -> Iterator[bytes]:
    names = [column.name for column in resource.columns]
    line = io.StringIO()
    writer = csv.writer(line, lineterminator="\n")
    writer.writerow(names)
    header = line.getvalue()

    def lines() -> Iterator[str]:
        for row in rows:
            line.seek(0)
            line.truncate()
            writer.writerow([csv_value(row[name]) for name in names])
            yield line.getvalue()

    yield header.encode()
    yield from _buffered(stream, lines())


def copy_sql(resource: Resource, context: ExportContext, queryset: models.QuerySet) -> str:
    """The COPY statement of a resource's CSV, every column reduced in the SELECT."""
    # The primary key comes last (`ck`), to keep the rows in their order through the join.
    sources = [column.source for column in resource.columns] + list(resource.hidden_sources)
    inner, inner_params = queryset.values_list(*sources, "pk").query.sql_with_params()
    columns = resource.columns_for(context)
    hidden = [f"h{index}" for index in range(len(resource.hidden_sources))]
    aliases = ", ".join([*(f"c{index}" for index in range(len(columns))), *hidden, "ck"])
    model = resource.model()
    select = ", ".join(
        column.sql(f"t.c{index}", context.profile, is_time=is_time_column(model, column.source))
        + f' AS "{column.name}"'
        for index, column in enumerate(columns)
    )
    joins = "".join(
        f" LEFT JOIN pg_temp.{PSEUDONYM_TABLE} AS t_c{index}_p ON t_c{index}_p.id = t.c{index}"
        for index, column in enumerate(columns)
        if column.kind == "pseudonym"
    )
    # `%` outside the parameters is doubled before mogrify reads the placeholders.
    sql = f"SELECT {select.replace('%', '%%')} FROM ({inner}) AS t({aliases}){joins} ORDER BY t.ck"
    # PostgreSQL's DatabaseOperations has compose_sql; the stubs know only the base class.
    statement = connection.ops.compose_sql(sql, inner_params)  # type: ignore[attr-defined]
    return f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, HEADER)"


def load_pseudonyms(cursor: Any, context: ExportContext) -> None:
    """The trial's pseudonyms (sponsor_api.pseudonyms) in a temporary table of this transaction.

    Written with COPY FROM, never as SQL text, so the link between internal ids and
    pseudonyms appears in no query log; read in chunks, so memory stays flat.
    """
    # Dropped at commit; dropped here too for a second export in the same transaction.
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{PSEUDONYM_TABLE}")
    cursor.execute(
        f"CREATE TEMP TABLE {PSEUDONYM_TABLE} (id bigint PRIMARY KEY, pseudonym text NOT NULL)"
        " ON COMMIT DROP"
    )
    secret, last = context.sponsor.pseudonym_secret, 0
    participants = Participant.objects.filter(trial=context.trial).order_by("pk")
    while ids := list(participants.filter(pk__gt=last).values_list("pk", flat=True)[:10_000]):
        with cursor.copy(f"COPY {PSEUDONYM_TABLE} (id, pseudonym) FROM STDIN") as copy:
            for pk in ids:
                copy.write_row((pk, pseudonym(secret, pk)))
        last = ids[-1]
    cursor.execute(f"ANALYZE {PSEUDONYM_TABLE}")


def _copy_csv(
    stream: ExportStream,
    sponsor: Sponsor,
    trial: Trial,
    resource: Resource,
    params: ExportParams,
) -> Iterator[bytes]:
    context = export_context(sponsor=sponsor, trial=trial)
    statement = copy_sql(resource, context, filtered_queryset(resource, trial, params))
    outermost = not connection.in_atomic_block
    # One transaction for the pseudonym table and the rows; one snapshot for both, so a
    # participant added in between cannot appear without a pseudonym.
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            if outermost:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            load_pseudonyms(cursor, context)
            buffer = bytearray()
            with cursor.copy(statement) as copy:
                for data in copy:
                    buffer += data
                    if len(buffer) >= STREAM_BUFFER:
                        yield bytes(buffer)
                        buffer.clear()
            if buffer:
                yield bytes(buffer)
            stream.rows = max(cursor.rowcount, 0)
