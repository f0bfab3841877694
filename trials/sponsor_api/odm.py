"""The trial's clinical data as CDISC ODM 1.3.2 XML, pseudonymized, written as it is read.

One query per record type, each ordered by participant and read in chunks, merged subject by
subject: memory holds one subject's records, whatever the trial's size. Participants appear
only by their sponsor pseudonym; free text (notes, descriptions, reasons, text screening
fields), kit and lot numbers and internal ids are never written. Dates follow the sponsor's
export profile: under Safe Harbor only the year is left, declared as ODM `partialDate`.
"""

from __future__ import annotations

import datetime
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django.db.models import Exists, OuterRef, QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from lxml import etree
from rest_framework.decorators import api_view, permission_classes, renderer_classes
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from trials.enrollment.models import Consent
from trials.participants.models import Participant
from trials.safety.models import (
    SERIOUSNESS_FIELDS,
    ActionTaken,
    AdverseEvent,
    Assessment,
    Outcome,
    Relatedness,
    Severity,
)
from trials.sessions.models import DosingSession, PregnancyTest, Route, SessionStatus, VitalSign
from trials.sponsor_api.api import IsSponsorKey
from trials.sponsor_api.exports import ExportStream
from trials.sponsor_api.pseudonyms import LIMITED, OLDEST_AGE, pseudonym, reduce_date
from trials.sponsor_api.streaming import logged_stream
from trials.study.models import ProtocolVersion, Sponsor, Trial

if TYPE_CHECKING:
    from trials.sponsor_api.authentication import SponsorClient

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
CONTENT_TYPE = "application/xml; charset=utf-8"
CHUNK_SIZE = 2000
# Subjects written between two flushes of the output.
SUBJECTS_PER_CHUNK = 50

SCREENING_EVENT = "SCREENING"
ADVERSE_EVENTS_EVENT = "AE"


def _tag(name: str) -> str:
    return f"{{{ODM_NS}}}{name}"


@dataclass(frozen=True)
class Item:
    """One ODM ItemDef: its OID, name, data type, code list (for coded values), and the field of
    the clinical record its value is read from (none for screening items, read from the data)."""

    oid: str
    name: str
    data_type: str
    codes: tuple[tuple[str, str], ...] = ()
    field: str = ""

    @property
    def code_list_oid(self) -> str:
        return f"CL.{self.oid.removeprefix('IT.')}"


@dataclass
class Group:
    oid: str
    name: str
    repeating: bool
    items: list[Item] = field(default_factory=list)


def _choices(choices: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label in choices)


def _date_type(profile: str, *, with_time: bool) -> str:
    if profile != LIMITED:
        return "partialDate"  # "YYYY": the year is all Safe Harbor leaves
    return "datetime" if with_time else "date"


def _dosing_group(profile: str) -> Group:
    moment = _date_type(profile, with_time=True)
    return Group(
        "IG.DOSING",
        "Dosing session",
        False,
        [
            Item(
                "IT.DOSING.STATUS",
                "Dose status",
                "text",
                _choices(SessionStatus.choices),
                field="status",
            ),
            Item("IT.DOSING.ROUTE", "Route", "text", _choices(Route.choices), field="route"),
            Item("IT.DOSING.WASHOUT_DAYS", "Washout days", "integer", field="washout_days"),
            Item(
                "IT.DOSING.PREGNANCY_TEST",
                "Pregnancy test",
                "text",
                _choices(PregnancyTest.choices),
                field="pregnancy_test",
            ),
            Item(
                "IT.DOSING.PREDOSE_SYSBP",
                "Pre-dose systolic BP (mmHg)",
                "integer",
                field="predose_systolic",
            ),
            Item(
                "IT.DOSING.PREDOSE_DIABP",
                "Pre-dose diastolic BP (mmHg)",
                "integer",
                field="predose_diastolic",
            ),
            Item(
                "IT.DOSING.PREDOSE_HR",
                "Pre-dose heart rate (bpm)",
                "integer",
                field="predose_heart_rate",
            ),
            Item(
                "IT.DOSING.PREDOSE_TEMP",
                "Pre-dose temperature (C)",
                "float",
                field="predose_temperature",
            ),
            Item("IT.DOSING.DOSED_AT", "Time of dose", moment, field="dosed_at"),
            Item(
                "IT.DOSING.SUPPLEMENT_AT",
                "Time of supplemental dose",
                moment,
                field="supplemental_dosed_at",
            ),
            Item("IT.DOSING.ENDED_AT", "End of session", moment, field="ended_at"),
        ],
    )


def _vitals_group(profile: str) -> Group:
    return Group(
        "IG.VITALS",
        "Vital signs",
        True,
        [
            Item(
                "IT.VITALS.MEASURED_AT",
                "Measured at",
                _date_type(profile, with_time=True),
                field="measured_at",
            ),
            Item("IT.VITALS.SYSBP", "Systolic BP (mmHg)", "integer", field="systolic"),
            Item("IT.VITALS.DIABP", "Diastolic BP (mmHg)", "integer", field="diastolic"),
            Item("IT.VITALS.HR", "Heart rate (bpm)", "integer", field="heart_rate"),
            Item("IT.VITALS.TEMP", "Temperature (C)", "float", field="temperature"),
        ],
    )


def _assessment_group(profile: str, instruments: list[tuple[str, str]]) -> Group:
    return Group(
        "IG.ASSESSMENT",
        "Rating-scale assessment",
        True,
        [
            Item(
                "IT.ASSESSMENT.INSTRUMENT",
                "Instrument",
                "text",
                tuple(instruments),
                field="instrument",
            ),
            Item("IT.ASSESSMENT.SCORE", "Total score", "float", field="score"),
            Item(
                "IT.ASSESSMENT.AT",
                "Assessed at",
                _date_type(profile, with_time=True),
                field="assessed_at",
            ),
        ],
    )


def _adverse_event_group(profile: str) -> Group:
    moment = _date_type(profile, with_time=True)
    flags = [
        Item(f"IT.AE.{name.upper()}", name.replace("_", " ").capitalize(), "boolean", field=name)
        for name in SERIOUSNESS_FIELDS
    ]
    return Group(
        "IG.AE",
        "Adverse event",
        True,
        [
            Item("IT.AE.TERM", "Reported term", "text", field="term"),
            Item("IT.AE.ONSET", "Onset", moment, field="onset_at"),
            Item("IT.AE.END", "End", moment, field="ended_at"),
            Item(
                "IT.AE.SEVERITY", "Severity", "text", _choices(Severity.choices), field="severity"
            ),
            *flags,
            Item(
                "IT.AE.RELATEDNESS",
                "Relatedness",
                "text",
                _choices(Relatedness.choices),
                field="relatedness",
            ),
            Item(
                "IT.AE.ACTION",
                "Action taken",
                "text",
                _choices(ActionTaken.choices),
                field="action_taken",
            ),
            Item("IT.AE.OUTCOME", "Outcome", "text", _choices(Outcome.choices), field="outcome"),
        ],
    )


SCREENING_TYPES = {"integer": "integer", "decimal": "float", "boolean": "boolean", "choice": "text"}


def _is_age(spec: dict[str, Any]) -> bool:
    return spec.get("unit") == "years" and spec["name"].startswith("age")


def _screening_items(fields: list[dict[str, Any]], profile: str) -> list[tuple[Item, dict]]:
    """Screening fields a sponsor may have: every type but free text, ages capped at 90+."""
    items = []
    for spec in fields:
        if spec["type"] == "text":
            continue
        if spec["type"] == "date":
            data_type = _date_type(profile, with_time=False)
        elif _is_age(spec) and profile != LIMITED:
            data_type = "text"  # "90+" for every age from 90 up
        else:
            data_type = SCREENING_TYPES[spec["type"]]
        codes = tuple((str(c), str(c)) for c in spec.get("choices") or ())
        name = spec["name"]
        items.append(
            (Item(f"IT.SCR.{name.upper()}", spec.get("label") or name, data_type, codes), spec)
        )
    return items


@dataclass
class Metadata:
    """What the export declares, from every protocol version the trial has had (newest wins)."""

    trial: Trial
    profile: str
    version: ProtocolVersion | None
    events: list[dict[str, Any]]
    screening: list[tuple[Item, dict]]
    groups: dict[str, Group]

    @classmethod
    def for_trial(cls, trial: Trial, profile: str) -> Metadata:
        versions = list(ProtocolVersion.objects.filter(trial=trial).order_by("-number"))
        events: dict[str, dict] = {}
        fields: dict[str, dict] = {}
        instruments: dict[str, str] = {}
        for version in versions:
            content = version.content
            for event in content.get("schedule", []):
                events.setdefault(event["code"], event)
            for spec in content.get("screening", {}).get("fields", []):
                fields.setdefault(spec["name"], spec)
            for instrument in content.get("instruments") or []:
                instruments.setdefault(
                    instrument["code"], instrument.get("label") or instrument["code"]
                )
            for event in content.get("schedule", []):
                for code in event.get("instruments") or []:
                    instruments.setdefault(code, code)
        groups = {
            "dosing": _dosing_group(profile),
            "vitals": _vitals_group(profile),
            "assessment": _assessment_group(profile, sorted(instruments.items())),
            "ae": _adverse_event_group(profile),
        }
        screening = _screening_items(list(fields.values()), profile)
        latest = versions[0] if versions else None
        return cls(trial, profile, latest, list(events.values()), screening, groups)

    @property
    def study_oid(self) -> str:
        return f"ST.{self.trial.code}"

    @property
    def version_oid(self) -> str:
        return f"MDV.{self.version.number}" if self.version else "MDV.0"


def _translated(parent: etree._Element, tag: str, text: str) -> None:
    holder = etree.SubElement(parent, _tag(tag))
    translated = etree.SubElement(holder, _tag("TranslatedText"))
    translated.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    translated.text = text


def _study_element(meta: Metadata) -> etree._Element:
    trial = meta.trial
    study = etree.Element(_tag("Study"), OID=meta.study_oid, nsmap={None: ODM_NS})
    variables = etree.SubElement(study, _tag("GlobalVariables"))
    etree.SubElement(variables, _tag("StudyName")).text = trial.code
    etree.SubElement(variables, _tag("StudyDescription")).text = trial.title
    etree.SubElement(variables, _tag("ProtocolName")).text = trial.code
    version_name = f"Protocol version {meta.version.number}" if meta.version else "No protocol"
    mdv = etree.SubElement(study, _tag("MetaDataVersion"), OID=meta.version_oid, Name=version_name)
    event_oids = [SCREENING_EVENT, *[e["code"] for e in meta.events], ADVERSE_EVENTS_EVENT]
    protocol = etree.SubElement(mdv, _tag("Protocol"))
    for number, code in enumerate(event_oids, start=1):
        etree.SubElement(
            protocol,
            _tag("StudyEventRef"),
            StudyEventOID=f"SE.{code}",
            OrderNumber=str(number),
            Mandatory="No",
        )
    _study_event_defs(mdv, meta)
    _form_defs(mdv)
    _group_defs(mdv, meta)
    _item_defs(mdv, meta)
    return study


def _event_def(parent: etree._Element, oid: str, name: str, kind: str, forms: list[str]) -> None:
    event = etree.SubElement(
        parent, _tag("StudyEventDef"), OID=oid, Name=name, Repeating="No", Type=kind
    )
    for number, form in enumerate(forms, start=1):
        etree.SubElement(
            event, _tag("FormRef"), FormOID=form, OrderNumber=str(number), Mandatory="No"
        )


def _study_event_defs(mdv: etree._Element, meta: Metadata) -> None:
    _event_def(mdv, f"SE.{SCREENING_EVENT}", "Screening", "Scheduled", ["F.SCREENING"])
    for event in meta.events:
        forms = ["F.DOSING"] if event.get("kind") == "dosing" else []
        _event_def(
            mdv, f"SE.{event['code']}", event["label"], "Scheduled", [*forms, "F.ASSESSMENT"]
        )
    _event_def(mdv, f"SE.{ADVERSE_EVENTS_EVENT}", "Adverse events", "Common", ["F.AE"])


FORMS = (
    ("F.SCREENING", "Screening", ["IG.SCREENING"]),
    ("F.DOSING", "Dosing session", ["IG.DOSING", "IG.VITALS"]),
    ("F.ASSESSMENT", "Assessments", ["IG.ASSESSMENT"]),
    ("F.AE", "Adverse events", ["IG.AE"]),
)


def _form_defs(mdv: etree._Element) -> None:
    for oid, name, groups in FORMS:
        form = etree.SubElement(mdv, _tag("FormDef"), OID=oid, Name=name, Repeating="No")
        for number, group in enumerate(groups, start=1):
            etree.SubElement(
                form,
                _tag("ItemGroupRef"),
                ItemGroupOID=group,
                OrderNumber=str(number),
                Mandatory="No",
            )


def _all_groups(meta: Metadata) -> list[Group]:
    screening = Group("IG.SCREENING", "Screening data", False, [i for i, _ in meta.screening])
    return [screening, *meta.groups.values()]


def _group_defs(mdv: etree._Element, meta: Metadata) -> None:
    for group in _all_groups(meta):
        element = etree.SubElement(
            mdv,
            _tag("ItemGroupDef"),
            OID=group.oid,
            Name=group.name,
            Repeating="Yes" if group.repeating else "No",
        )
        for number, item in enumerate(group.items, start=1):
            etree.SubElement(
                element,
                _tag("ItemRef"),
                ItemOID=item.oid,
                OrderNumber=str(number),
                Mandatory="No",
            )


def _item_defs(mdv: etree._Element, meta: Metadata) -> None:
    items = [item for group in _all_groups(meta) for item in group.items]
    for item in items:
        element = etree.SubElement(
            mdv, _tag("ItemDef"), OID=item.oid, Name=item.name, DataType=item.data_type
        )
        if item.codes:
            etree.SubElement(element, _tag("CodeListRef"), CodeListOID=item.code_list_oid)
    for item in items:
        if not item.codes:
            continue
        code_list = etree.SubElement(
            mdv, _tag("CodeList"), OID=item.code_list_oid, Name=item.name, DataType="text"
        )
        for value, label in item.codes:
            code = etree.SubElement(code_list, _tag("CodeListItem"), CodedValue=value)
            _translated(code, "Decode", label)


# --- clinical data -----------------------------------------------------------------------------


def _rows(queryset: QuerySet, *fields: str) -> Iterator[dict[str, Any]]:
    return queryset.values(*fields).iterator(chunk_size=CHUNK_SIZE)


def _by_participant(rows: Iterator[dict[str, Any]]) -> Iterator[tuple[int, list[dict]]]:
    for participant_id, group in itertools.groupby(rows, key=lambda row: row["participant_id"]):
        yield participant_id, list(group)


class _Merged:
    """Rows of one record type for each participant, read in participant order."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self._groups = _by_participant(rows)
        self._next: tuple[int, list[dict]] | None = next(self._groups, None)

    def take(self, participant_id: int) -> list[dict]:
        while self._next is not None and self._next[0] < participant_id:
            self._next = next(self._groups, None)
        if self._next is not None and self._next[0] == participant_id:
            rows = self._next[1]
            self._next = next(self._groups, None)
            return rows
        return []


def _streams(trial: Trial, meta: Metadata) -> dict[str, _Merged]:
    """Each kind of clinical record, by participant, reading the fields its item group shows."""
    dosing = DosingSession.objects.filter(participant__trial=trial).order_by(
        "participant_id", "visit__sequence"
    )
    vitals = VitalSign.objects.filter(participant__trial=trial).order_by(
        "participant_id", "dosing_session__visit__sequence", "measured_at", "pk"
    )
    assessments = Assessment.objects.filter(participant__trial=trial).order_by(
        "participant_id", "visit__sequence", "instrument"
    )
    events = AdverseEvent.objects.filter(participant__trial=trial).order_by(
        "participant_id", "onset_at", "pk"
    )
    event_code = "visit__event_code"
    return {
        "dosing": _Merged(_rows(dosing, "participant_id", event_code, *_fields(meta, "dosing"))),
        "vitals": _Merged(
            _rows(
                vitals,
                "participant_id",
                "dosing_session__visit__event_code",
                *_fields(meta, "vitals"),
            )
        ),
        "assessment": _Merged(
            _rows(assessments, "participant_id", event_code, *_fields(meta, "assessment"))
        ),
        "ae": _Merged(_rows(events, "participant_id", *_fields(meta, "ae"))),
    }


def _text(value: Any, profile: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return reduce_date(value, profile)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _item_group(
    parent: etree._Element, oid: str, values: Iterable[tuple[str, str | None]], key: int | None
) -> None:
    present = [(item, value) for item, value in values if value is not None]
    if not present:
        return
    group = etree.SubElement(parent, _tag("ItemGroupData"), ItemGroupOID=oid)
    if key is not None:
        group.set("ItemGroupRepeatKey", str(key))
    for item, value in present:
        etree.SubElement(group, _tag("ItemData"), ItemOID=item, Value=value)


def _form(parent: etree._Element, oid: str) -> etree._Element:
    return etree.SubElement(parent, _tag("FormData"), FormOID=oid)


def _screening_value(spec: dict[str, Any], value: Any, profile: str) -> str | None:
    if value is None or value == "":
        return None
    if spec["type"] == "date":
        try:
            return reduce_date(datetime.date.fromisoformat(str(value)), profile)
        except ValueError:
            return None
    if _is_age(spec) and profile != LIMITED and isinstance(value, int | float):
        years = int(value)
        return f"{OLDEST_AGE}+" if years >= OLDEST_AGE else str(years)
    return _text(value, profile)


def _subject(
    participant: dict[str, Any], meta: Metadata, records: dict[str, list[dict]], sponsor: Sponsor
) -> etree._Element:
    profile = sponsor.export_profile
    subject = etree.Element(
        _tag("SubjectData"), SubjectKey=pseudonym(sponsor.pseudonym_secret, participant["id"])
    )
    data = participant["eligibility_data"] or {}
    screening = [
        (item.oid, _screening_value(spec, data.get(spec["name"]), profile))
        for item, spec in meta.screening
    ]
    if any(value is not None for _, value in screening):
        event = etree.SubElement(subject, _tag("StudyEventData"), StudyEventOID="SE.SCREENING")
        _item_group(_form(event, "F.SCREENING"), "IG.SCREENING", screening, None)
    dosing = {row["visit__event_code"]: row for row in records["dosing"]}
    vitals = itertools.groupby(
        records["vitals"], key=lambda row: row["dosing_session__visit__event_code"]
    )
    vitals_by_event = {code: list(rows) for code, rows in vitals}
    assessments = {
        code: list(rows)
        for code, rows in itertools.groupby(
            records["assessment"], key=lambda row: row["visit__event_code"]
        )
    }
    for event in meta.events:
        code = event["code"]
        if code not in dosing and code not in assessments:
            continue
        element = etree.SubElement(subject, _tag("StudyEventData"), StudyEventOID=f"SE.{code}")
        if code in dosing:
            _dosing_form(element, meta, dosing[code], vitals_by_event.get(code, []), profile)
        if code in assessments:
            form = _form(element, "F.ASSESSMENT")
            for key, row in enumerate(assessments[code], start=1):
                _item_group(form, "IG.ASSESSMENT", _pairs(meta, "assessment", row), key)
    if records["ae"]:
        element = etree.SubElement(
            subject, _tag("StudyEventData"), StudyEventOID=f"SE.{ADVERSE_EVENTS_EVENT}"
        )
        form = _form(element, "F.AE")
        for key, row in enumerate(records["ae"], start=1):
            _item_group(form, "IG.AE", _pairs(meta, "ae", row), key)
    return subject


def _fields(meta: Metadata, group: str) -> tuple[str, ...]:
    """The fields a group's items are read from, in item order."""
    return tuple(item.field for item in meta.groups[group].items)


def _pairs(meta: Metadata, group: str, row: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(item OID, value) in the group's item order, each read from the item's field."""
    return [(item.oid, _text(row[item.field], meta.profile)) for item in meta.groups[group].items]


def _dosing_form(
    event: etree._Element, meta: Metadata, row: dict, vitals: list[dict], profile: str
) -> None:
    form = _form(event, "F.DOSING")
    _item_group(form, "IG.DOSING", _pairs(meta, "dosing", row), None)
    for key, vital in enumerate(vitals, start=1):
        _item_group(form, "IG.VITALS", _pairs(meta, "vitals", vital), key)


class _Sink:
    """Collects what lxml writes so the generator can hand it on in pieces."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def odm_stream(*, sponsor: Sponsor, trial: Trial) -> ExportStream:
    """The trial's ODM 1.3.2 document in pieces; `rows` counts the subjects written."""
    return ExportStream(lambda stream: _odm_chunks(stream, sponsor, trial))


def _odm_chunks(stream: ExportStream, sponsor: Sponsor, trial: Trial) -> Iterator[bytes]:
    meta = Metadata.for_trial(trial, sponsor.export_profile)
    # Clinical data of people who consented to the trial: a candidate screened out before
    # consenting is counted in the screening log (the `screenings` resource), not sent here.
    consented = Consent.objects.filter(participant=OuterRef("pk"))
    participants = _rows(
        Participant.objects.filter(trial=trial).filter(Exists(consented)).order_by("pk"),
        "id",
        "eligibility_data",
    )
    sink = _Sink()
    now = timezone.now().astimezone(datetime.UTC).replace(microsecond=0)
    with etree.xmlfile(sink, encoding="utf-8") as xf:
        xf.write_declaration()
        root = {
            "FileType": "Snapshot",
            "FileOID": f"DYAD.{trial.code}.{now:%Y%m%dT%H%M%S}",
            "CreationDateTime": now.isoformat().replace("+00:00", "Z"),
            "ODMVersion": "1.3.2",
            "Originator": "Dyad",
            "SourceSystem": "Dyad",
        }
        with xf.element(_tag("ODM"), root, nsmap={None: ODM_NS}):
            xf.write(_study_element(meta))
            xf.flush()
            yield sink.drain()
            clinical = {"StudyOID": meta.study_oid, "MetaDataVersionOID": meta.version_oid}
            with xf.element(_tag("ClinicalData"), clinical):
                streams = _streams(trial, meta)
                for number, participant in enumerate(participants, start=1):
                    records = {
                        name: stream.take(participant["id"]) for name, stream in streams.items()
                    }
                    xf.write(_subject(participant, meta, records, sponsor))
                    stream.rows = number
                    if number % SUBJECTS_PER_CHUNK == 0:
                        xf.flush()
                        yield sink.drain()
    yield sink.drain()


class ODMRenderer(BaseRenderer):
    """Lets a client ask for XML; the body is the streamed document, errors a short text."""

    media_type = "application/xml"
    format = "xml"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        return json.dumps(data).encode() if data is not None else b""


def sponsor_trial_or_404(request: Request, code: str) -> tuple[Sponsor, Trial]:
    """The key's sponsor and one of its trials; another sponsor's trial is a 404."""
    trial = get_object_or_404(
        Trial.objects.visible_to(request.user).select_related("sponsor"), code=code
    )
    return cast("SponsorClient", request.user).sponsor, trial


def logged_response(
    request: Request, stream: ExportStream, *, trial: Trial, resource: str, fmt: str
) -> StreamingHttpResponse:
    """A streamed export, logged in ExportRequest (rows: subjects) when its last byte is sent."""
    log = {
        "sponsor": cast("SponsorClient", request.user).sponsor,
        "api_key": request.auth,
        "trial": trial,
        "resource": resource,
        "fmt": fmt,
        "query": request.META.get("QUERY_STRING", ""),
        "started_at": timezone.now(),
        "status_code": 200,
    }
    return StreamingHttpResponse(logged_stream(stream, log))


@extend_schema(
    summary="The trial's clinical data as CDISC ODM 1.3.2 XML",
    description=(
        "Metadata (study events from the protocol's schedule, forms, item groups, items, code "
        "lists) and clinical data per subject: screening data, dosing sessions with vitals, "
        "assessments and adverse events. Subjects are keyed by the sponsor's pseudonym; no free "
        "text; dates as the sponsor's export profile allows (Safe Harbor: the year, as ODM "
        "partialDate). Streamed."
    ),
    responses={
        (200, "application/xml"): OpenApiResponse(OpenApiTypes.STR, description="ODM 1.3.2"),
        401: OpenApiResponse(description="No or bad API key."),
        404: OpenApiResponse(description="No such trial for this sponsor."),
    },
    tags=["exports"],
)
@api_view(["GET"])
@renderer_classes([JSONRenderer, ODMRenderer])
@permission_classes([IsSponsorKey])
def trial_odm(request: Request, code: str) -> StreamingHttpResponse:
    """GET /api/v1/trials/<code>/odm."""
    sponsor, trial = sponsor_trial_or_404(request, code)
    stream = odm_stream(sponsor=sponsor, trial=trial)
    response = logged_response(request, stream, trial=trial, resource="odm", fmt="xml")
    response["Content-Type"] = CONTENT_TYPE
    response["Content-Disposition"] = f'attachment; filename="{trial.code}-odm.xml"'
    return response
