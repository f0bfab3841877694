"""Every write service refuses a user without the role for it, and writes nothing.

The services are discovered, not listed by hand: every public function of trials/*/services.py
and screening/services.py that takes the acting user (`by`, or the `investigator` or `signer`
who signs). A new one fails here until it has a row in CASES (or, if it deliberately checks no
role, in UNCHECKED with the reason). Each row is checked both ways: refused for everyone listed,
nothing written; then the same call by someone who holds the role goes through.
"""

import datetime
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

import trials
from screening.services import screening_record, screening_start
from tests.factories import COMP360_ELIGIBLE_DATA, PASSWORD, PROTOCOLS, UserFactory, contact_details
from tests.trials.test_sessions import CHECKLIST, LONDON, RELEASE
from trials.enrollment.services import consent_record
from trials.safety.models import AdverseEvent
from trials.safety.services import adverse_event_report
from trials.sessions.models import Visit
from trials.sessions.services import (
    dosing_session_give_dose,
    dosing_session_start,
    dosing_session_update,
)
from trials.sponsor_api.models import ExportJob
from trials.sponsor_api.services import export_job_create
from trials.study.models import Arm
from trials.study.services import protocol_load

ACTING_USER = ("by", "investigator", "signer")
COMP360 = (PROTOCOLS / "comp360-trd-p3.yaml").read_text()
NO_ANSWERS = {
    "wish_to_be_dead": False,
    "suicidal_thoughts": False,
    "thoughts_with_method": False,
    "intent": False,
    "plan": False,
    "recent_behaviour": False,
}
# People with no role at the participant's trial site: trial-wide roles, and a coordinator of
# another trial at the same site.
OUTSIDERS = ("monitor", "sponsor_user", "coordinator_other_trial")

Get = Callable[[str], Any]


def acting_services() -> dict[str, Callable[..., object]]:
    """Every public service function that takes the acting user, by name."""
    modules = [
        f"trials.{path.parent.name}.services"
        for path in sorted(Path(trials.__file__).parent.glob("*/services.py"))
    ]
    found: dict[str, Callable[..., object]] = {}
    for module in map(importlib.import_module, [*modules, "screening.services"]):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            if set(ACTING_USER) & set(inspect.signature(function).parameters):
                assert name not in found, f"two services named {name}"
                found[name] = function
    return found


# --- What each service needs -------------------------------------------------------------


def _visit(get: Get, code: str) -> Visit:
    return Visit.objects.get(participant=get("randomized_site_a"), event_code=code)


def _consented(get: Get):
    coordinator = get("coordinator_site_a")
    participant = get("eligible_site_a")
    consent_record(
        participant=participant,
        form_version=get("consent_form"),
        consented_at=timezone.now() - datetime.timedelta(hours=1),
        obtained_by=coordinator,
        participant_confirmed=True,
        by=coordinator,
    )
    participant.refresh_from_db()
    return participant


def _session(get: Get, **checklist: object):
    facilitator = get("dosing_team_site_a")[0].user
    session = dosing_session_start(visit=get("booked_dosing_site_a"), by=facilitator)
    if checklist:
        dosing_session_update(session=session, values=checklist, by=facilitator)
    return session


def _given(get: Get):
    dose = _dose(get)
    return dosing_session_give_dose(**dose, by=dose["session"].started_by)


def _with_supplement(get: Get):
    session = _given(get)
    # The COMP360 arms have no supplemental dose; give the allocated arm one.
    Arm.objects.filter(trial=session.participant.trial).update(dose_mg=[25, 12.5])
    return session


def _released(get: Get):
    session = _given(get)
    values = {**RELEASE, "ended_at": timezone.now() - datetime.timedelta(minutes=5)}
    return dosing_session_update(session=session, values=values, by=session.started_by)


def _event(get: Get) -> AdverseEvent:
    return adverse_event_report(
        participant=get("participant_site_a"),
        values=_ae_values(),
        by=get("facilitator_site_a"),
    )


def _ae_values() -> dict[str, object]:
    return {
        "term": "Transient hypertension",
        "onset_at": timezone.now() - datetime.timedelta(hours=2),
        "severity": AdverseEvent.Severity.MODERATE,
        "relatedness": AdverseEvent.Relatedness.PROBABLE,
        "action_taken": AdverseEvent.ActionTaken.NONE,
        "outcome": AdverseEvent.Outcome.RECOVERED,
    }


def _screening(get: Get, **values: object):
    get("comp360_protocol")
    coordinator = get("coordinator_site_a")
    screening = screening_start(participant=get("participant_site_a"), by=coordinator)
    if values:
        screening_record(screening=screening, values=values, by=coordinator)
    return screening


def _amendment():
    old = "treatment-resistant depression (phase 3)"
    assert old in COMP360
    text = COMP360.replace(old, "treatment-resistant depression (phase 3, amendment 1)")
    return protocol_load(content=text, filename="amendment-1.yaml", by=None)[0]


def _under_amendment(get: Get) -> dict[str, object]:
    screening = _screening(get)
    return {"screening": screening, "version": _amendment(), "reason": "Amendment 1 approved"}


def _open_screening_and_amendment(get: Get) -> dict[str, object]:
    _screening(get)
    _amendment()
    return {"trial_site": get("trial_site_a"), "reason": "Amendment 1 approved"}


def _candidate_and_protocol(get: Get) -> dict[str, object]:
    get("comp360_protocol")
    return {"participant": get("participant_site_a")}


def _dose(get: Get) -> dict[str, Any]:
    session = _session(get, **CHECKLIST)
    return {
        "session": session,
        "kit_code": session.participant.allocation.kit_code,
        "lot_number": "LOT-2291",
        "dosed_at": timezone.now() - datetime.timedelta(hours=3),
        "route": "oral",
    }


def _booking(get: Get) -> dict[str, object]:
    visit = _visit(get, "DOSE1")
    return {
        "visit": visit,
        "starts_at": datetime.datetime.combine(
            visit.target_date, datetime.time(9, 0), tzinfo=LONDON
        ),
        "room": "Dosing suite",
        "facilitators": get("dosing_team_site_a"),
    }


@dataclass(frozen=True)
class Case:
    """How to call a service: its arguments, who may, and who may not."""

    arguments: Callable[[Get], dict[str, object]]
    allowed: str
    refused: tuple[str, ...]


SITE_A_STRANGERS = ("coordinator_site_b", *OUTSIDERS)
CARE_STRANGERS = ("facilitator_site_b", "coordinator_site_b", *OUTSIDERS)
NOT_INVESTIGATORS = ("coordinator_site_a", "facilitator_site_a", "investigator_site_b")
NOT_STAFF = ("coordinator_site_a", "monitor", "sponsor_user")

CASES: dict[str, Case] = {
    # participants
    "participant_create": Case(
        lambda get: {"trial_site": get("trial_site_a"), "contact": contact_details()},
        allowed="coordinator_site_a",
        refused=("investigator_site_a", "facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "participant_contact_update": Case(
        lambda get: {
            "participant": get("participant_site_a"),
            "changes": {"phone": "+44 20 7946 0999"},
            "reason": "Number corrected",
        },
        allowed="coordinator_site_a",
        refused=("investigator_site_a", "facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "participant_change_status": Case(
        lambda get: {
            "participant": get("participant_site_a"),
            "to_status": "screening",
            "reason": "Screening visit booked",
        },
        allowed="facilitator_site_a",
        refused=SITE_A_STRANGERS,
    ),
    # enrollment
    "consent_record": Case(
        lambda get: {
            "participant": get("eligible_site_a"),
            "form_version": get("consent_form"),
            "consented_at": timezone.now() - datetime.timedelta(hours=1),
            "obtained_by": get("coordinator_site_a"),
            "participant_confirmed": True,
        },
        allowed="coordinator_site_a",
        refused=("facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "participant_randomize": Case(
        lambda get: {"participant": _consented(get)},
        allowed="investigator_site_a",
        refused=("facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "participant_unblind": Case(
        lambda get: {
            "participant": get("randomized_site_a"),
            "password": PASSWORD,
            "reason": "Emergency: serotonin syndrome suspected",
        },
        allowed="investigator_site_a",
        refused=(*NOT_INVESTIGATORS, *OUTSIDERS),
    ),
    "participant_exit": Case(
        lambda get: {
            "participant": get("randomized_site_a"),
            "kind": "withdrawn",
            "reason": "withdrew_consent",
            "details": "",
            "exited_on": timezone.now().date(),
        },
        allowed="coordinator_site_a",
        refused=("facilitator_site_a", *SITE_A_STRANGERS),
    ),
    # sessions
    "visit_book": Case(
        _booking,
        allowed="coordinator_site_a",
        refused=("facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "dosing_session_start": Case(
        lambda get: {"visit": get("booked_dosing_site_a")},
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "dosing_session_update": Case(
        lambda get: {"session": _session(get), "values": CHECKLIST},
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "dosing_session_override_vitals": Case(
        lambda get: {
            "session": _session(get, **{**CHECKLIST, "predose_systolic": 172}),
            "password": PASSWORD,
            "reason": "Anxious; repeat 150",
        },
        allowed="investigator_site_a",
        refused=(*NOT_INVESTIGATORS, *OUTSIDERS),
    ),
    "dosing_session_give_dose": Case(
        _dose,
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "dosing_session_supplement": Case(
        lambda get: {
            "session": _with_supplement(get),
            "dosed_at": timezone.now() - datetime.timedelta(hours=1),
            "lot_number": "LOT-2292",
        },
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "dosing_session_not_given": Case(
        lambda get: {"session": _session(get), "reason": "Unwell on arrival"},
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "vital_sign_add": Case(
        lambda get: {
            "session": _session(get),
            "values": {
                "measured_at": timezone.now() - datetime.timedelta(minutes=5),
                "systolic": 120,
                "diastolic": 80,
                "heart_rate": 70,
            },
        },
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "dosing_session_sign": Case(
        # Signed by one of the session's two facilitators (the other data rules hold too).
        lambda get: {"session": _released(get), "password": PASSWORD},
        allowed="facilitator_a2",
        refused=CARE_STRANGERS,
    ),
    "therapy_session_record": Case(
        lambda get: {
            "visit": _visit(get, "PREP1"),
            "values": {
                "attended": True,
                "started_at": timezone.now() - datetime.timedelta(hours=2),
                "duration_minutes": 90,
                "facilitator": get("dosing_team_site_a")[0],
                "themes": "Intentions, set and setting",
            },
        },
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    # safety
    "assessment_record": Case(
        lambda get: {
            "visit": _visit(get, "BASE"),
            "instrument": "MADRS",
            "score": Decimal(30),
            "assessed_at": timezone.now() - datetime.timedelta(hours=1),
        },
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "risk_screen_record": Case(
        lambda get: {
            "participant": get("participant_site_a"),
            "visit": None,
            "answers": NO_ANSWERS,
            "assessed_at": timezone.now() - datetime.timedelta(hours=1),
        },
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "adverse_event_report": Case(
        lambda get: {"participant": get("participant_site_a"), "values": _ae_values()},
        allowed="facilitator_site_a",
        refused=CARE_STRANGERS,
    ),
    "adverse_event_update": Case(
        lambda get: {
            "event": _event(get),
            "values": {"outcome": AdverseEvent.Outcome.RECOVERING},
            "reason": "Follow-up call",
        },
        allowed="coordinator_site_a",
        refused=CARE_STRANGERS,
    ),
    "adverse_event_review": Case(
        lambda get: {"event": _event(get), "password": PASSWORD},
        allowed="investigator_site_a",
        refused=(*NOT_INVESTIGATORS, *OUTSIDERS),
    ),
    # screening
    "screening_start": Case(
        _candidate_and_protocol,
        allowed="coordinator_site_a",
        refused=("investigator_site_a", "facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "screening_record": Case(
        lambda get: {"screening": _screening(get), "values": COMP360_ELIGIBLE_DATA},
        allowed="investigator_site_a",
        refused=("facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "screening_apply_version": Case(
        _under_amendment,
        allowed="coordinator_site_a",
        refused=("facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "screenings_apply_current_version": Case(
        _open_screening_and_amendment,
        allowed="coordinator_site_a",
        refused=("facilitator_site_a", *SITE_A_STRANGERS),
    ),
    "screening_confirm": Case(
        lambda get: {"screening": _screening(get, **COMP360_ELIGIBLE_DATA), "password": PASSWORD},
        allowed="investigator_site_a",
        refused=(*NOT_INVESTIGATORS, *OUTSIDERS),
    ),
    # facilitators: the calendar link is the facilitator's own
    "facilitator_calendar_reset": Case(
        lambda get: {"facilitator": get("dosing_team_site_a")[0]},
        allowed="facilitator_a1",
        refused=("facilitator_a2", "coordinator_site_a", "investigator_site_a", "monitor"),
    ),
    # data manager's actions (the commands run them as the system, by=None)
    "protocol_load": Case(
        lambda get: {"content": COMP360, "filename": "comp360-trd-p3.yaml"},
        allowed="data_manager",
        refused=("clerk", *NOT_STAFF),
    ),
    "sponsor_api_key_create": Case(
        lambda get: {"sponsor": get("sponsor"), "name": "Nightly pull", "expires_at": None},
        allowed="data_manager",
        refused=("clerk", *NOT_STAFF),
    ),
}

UNCHECKED = {
    "signature_sign": (
        "A building block, not a service: called inside the transaction of the service that "
        "records what is signed (unblinding, overrides, reviews, verdicts, session logs), "
        "which checks the signer's role first."
    ),
    "allocations_give": (
        "The allocation step alone: called by participant_randomize after its role check, checks "
        "and locks, and by the demo seeder acting as the system."
    ),
}


@pytest.fixture
def facilitator_a1(dosing_team_site_a):
    return dosing_team_site_a[0].user


@pytest.fixture
def facilitator_a2(dosing_team_site_a):
    return dosing_team_site_a[1].user


@pytest.fixture
def data_manager(db):
    return UserFactory(username="data_manager", is_staff=True, is_superuser=True)


@pytest.fixture
def clerk(db):
    """Staff, so the admin opens, but without the permission to add anything."""
    return UserFactory(username="clerk", is_staff=True)


def _fingerprint() -> dict[str, tuple[int, str]]:
    """A fingerprint of every row of every table the apps write (audit events included)."""
    tables = sorted(
        {
            model._meta.db_table
            for label in ("trials", "screening", "pghistory", "auth")
            for model in apps.get_app_config(label).get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy
        }
    )
    quote = connection.ops.quote_name
    digest = "md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))"
    sql = " UNION ALL ".join(
        f"SELECT %s, count(*), {digest} FROM {quote(table)} t" for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, tables)
        return {table: (count, md5) for table, count, md5 in cursor.fetchall()}


def test_every_acting_service_has_a_role_case():
    discovered = set(acting_services())
    assert not set(CASES) & set(UNCHECKED)
    missing = discovered - set(CASES) - set(UNCHECKED)
    assert not missing, f"No role case for {sorted(missing)}: add it to CASES."
    assert set(CASES) | set(UNCHECKED) <= discovered, "A case names no discovered service."


def _call(name: str, arguments: dict[str, object], user: object) -> object:
    service = acting_services()[name]
    parameters = inspect.signature(service).parameters
    actor = next(name for name in ACTING_USER if name in parameters)
    return service(**arguments, **{actor: user})


@pytest.mark.parametrize("name", sorted(CASES))
def test_service_refuses_a_user_without_the_role_and_writes_nothing(db, request, name):
    case = CASES[name]
    arguments = case.arguments(request.getfixturevalue)
    refused = {who: request.getfixturevalue(who) for who in case.refused}
    allowed = request.getfixturevalue(case.allowed)
    before = _fingerprint()
    for who, user in refused.items():
        with pytest.raises(PermissionDenied):
            _call(name, arguments, user)
        assert _fingerprint() == before, f"{name} wrote as {who} before refusing"
    # The same call by someone who holds the role goes through: the refusal was the role's.
    _call(name, arguments, allowed)
    assert _fingerprint() != before


def test_an_export_job_is_refused_for_another_sponsors_trial(trial, other_trial):
    request: dict[str, Any] = {"resource": "participants", "fmt": "csv", "filters": {}}
    with pytest.raises(PermissionDenied):
        export_job_create(sponsor=other_trial.sponsor, api_key=None, trial=trial, **request)
    assert not ExportJob.objects.exists()
    export_job_create(sponsor=trial.sponsor, api_key=None, trial=trial, **request)
    assert ExportJob.objects.count() == 1
