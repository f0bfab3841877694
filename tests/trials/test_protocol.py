"""Tests of trials.study.protocol: the protocol file (format 1) as the product's input contract.

Plain pytest, no Django. The example protocols live in trials/protocols/ (falling back to the
shared copies); extra fixture files live in protocol_cases/ beside this file.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trials.study.protocol import (
    FORMAT_VERSION,
    ProtocolError,
    canonical_json,
    content_hash,
    load_protocol_text,
    parse_protocol,
    validate_protocol,
)

PROJECT_PROTOCOLS = Path(__file__).resolve().parents[2] / "trials" / "protocols"
SHARED_PROTOCOLS = Path("/work/shared/protocols")
PROTOCOLS = PROJECT_PROTOCOLS if PROJECT_PROTOCOLS.is_dir() else SHARED_PROTOCOLS
CASES = Path(__file__).resolve().parent / "protocol_cases"

COMP360 = "comp360-trd-p3.yaml"
MAPP1 = "mapp1.yaml"


def example_text(name: str) -> str:
    return (PROTOCOLS / name).read_text(encoding="utf-8")


def example(name: str = COMP360) -> dict[str, Any]:
    """A fresh, parsed (not validated) copy of an example file."""
    return parse_protocol(example_text(name), filename=name)


def errors_of(document: object) -> list[str]:
    with pytest.raises(ProtocolError) as caught:
        validate_protocol(document)
    return caught.value.errors


# The examples ----------------------------------------------------------------------------------


EXAMPLE_FILES = sorted(
    path for path in PROTOCOLS.iterdir() if path.suffix in (".yaml", ".yml", ".json")
)


def test_example_files_are_present() -> None:
    assert {COMP360, MAPP1} <= {path.name for path in EXAMPLE_FILES}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.name)
def test_every_example_file_validates(path: Path) -> None:
    protocol = load_protocol_text(path.read_bytes(), filename=path.name)
    assert protocol["format"] == FORMAT_VERSION


def test_comp360_example_validates_and_normalizes() -> None:
    protocol = load_protocol_text(example_text(COMP360), filename=COMP360)

    assert protocol["format"] == 1
    assert protocol["trial"] == {
        "code": "COMP360-TRD-P3",
        "title": "Two administrations of COMP360 psilocybin in treatment-resistant depression "
        "(phase 3)",
        "indication": "treatment-resistant depression",
        "compound": "psilocybin",
        "phase": "3",
        "sponsor": "Compass Pathways",
        "target_enrollment": 568,
        "facilitators_per_dosing_session": 2,
        "facilitator_requirements": {"licensed": True, "min_training_hours": 100},
        "dosing_safety": {"max_systolic_bp": 160, "max_diastolic_bp": 100, "max_heart_rate": 110},
    }
    assert [arm["code"] for arm in protocol["arms"]] == ["P25", "P10", "P1"]
    assert [arm["dose_mg"] for arm in protocol["arms"]] == [[25], [10], [1]]
    assert protocol["randomization"] == {
        "ratio": {"P25": 2, "P10": 1, "P1": 1},
        "block_sizes": [4, 8],
        "stratify_by": ["site"],
    }
    fields = protocol["screening"]["fields"]
    assert len(fields) == 10
    assert fields[0] == {
        "name": "age_years",
        "type": "integer",
        "label": "Age at screening",
        "unit": "years",
        "help": None,
        "min": 0,
        "max": 120,
        "choices": None,
    }
    assert fields[1] == {
        "name": "mdd_current_episode",
        "type": "boolean",
        "label": "Current major depressive episode (DSM-5, single or recurrent)",
        "unit": None,
        "help": None,
        "min": None,
        "max": None,
        "choices": None,
    }
    criteria = protocol["screening"]["criteria"]
    assert [c["id"] for c in criteria] == ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "E1", "E2"]
    assert criteria[3]["rule"]["any"][1] == {
        "field": "current_episode_duration_months",
        "op": "between",
        "value": [3, 24],
    }
    schedule = protocol["schedule"]
    assert len(schedule) == 13
    assert schedule[0]["instruments"] == ["MADRS", "QIDS-SR16"]
    assert schedule[1] == {
        "code": "PREP1",
        "kind": "preparation",
        "label": "Preparation session 1",
        "anchor": "randomization",
        "day": 2,
        "window": [0, 3],
        "instruments": [],  # default filled in
    }
    assert [(e["code"], e["anchor"]) for e in schedule if e["kind"] == "dosing"] == [
        ("DOSE1", "randomization"),
        ("DOSE2", "DOSE1"),
    ]
    assert protocol["instruments"] == [
        {
            "code": "MADRS",
            "label": "Montgomery-Åsberg Depression Rating Scale",
            "min": 0,
            "max": 60,
            "higher_is_worse": True,
        },
        {
            "code": "QIDS-SR16",
            "label": "Quick Inventory of Depressive Symptomatology, self-report",
            "min": 0,
            "max": 27,
            "higher_is_worse": True,
        },
    ]


def test_mapp1_example_validates_and_normalizes() -> None:
    protocol = load_protocol_text(example_text(MAPP1), filename=MAPP1)

    assert protocol["trial"]["code"] == "MAPP1"
    assert protocol["trial"]["compound"] == "MDMA"
    assert protocol["arms"] == [
        {
            "code": "MDMA",
            "label": "MDMA 80-120 mg with supplemental half dose",
            "dose_mg": [120, 60],
        },
        {"code": "PBO", "label": "Placebo with therapy", "dose_mg": [0, 0]},
    ]
    assert protocol["randomization"]["ratio"] == {"MDMA": 1, "PBO": 1}
    assert protocol["randomization"]["block_sizes"] == [2, 4]
    assert [c["id"] for c in protocol["screening"]["criteria"]] == (
        ["I1", "I2", "I3", "I4", "I5"] + [f"E{n}" for n in range(1, 12)]
    )
    assert [e["code"] for e in protocol["schedule"] if e["kind"] == "dosing"] == [
        "DOSE1",
        "DOSE2",
        "DOSE3",
    ]
    primary = protocol["schedule"][-1]
    assert (primary["code"], primary["anchor"], primary["day"], primary["window"]) == (
        "PRIMARY",
        "DOSE3",
        56,
        [-7, 7],
    )
    assert [i["code"] for i in protocol["instruments"]] == ["CAPS-5", "SDS"]


@pytest.mark.parametrize("name", [COMP360, MAPP1])
def test_validation_is_idempotent_and_does_not_touch_its_input(name: str) -> None:
    document = example(name)
    before = copy.deepcopy(document)
    protocol = validate_protocol(document)
    assert document == before
    assert validate_protocol(protocol) == protocol
    assert validate_protocol(json.loads(canonical_json(protocol))) == protocol


def test_single_arm_open_label_protocol_gets_every_default() -> None:
    protocol = load_protocol_text((CASES / "single-arm.yaml").read_text(encoding="utf-8"))

    assert protocol["randomization"] is None
    assert protocol["instruments"] == []
    trial = protocol["trial"]
    assert trial["phase"] == "2"  # YAML integer, normalized to text
    assert trial["facilitators_per_dosing_session"] == 2
    assert trial["facilitator_requirements"] == {"licensed": True, "min_training_hours": 0}
    assert trial["dosing_safety"] == {
        "max_systolic_bp": None,
        "max_diastolic_bp": None,
        "max_heart_rate": None,
    }
    assert protocol["arms"][0]["dose_mg"] == [25]
    bmi = protocol["screening"]["fields"][1]
    assert (bmi["type"], bmi["min"], bmi["max"], bmi["choices"]) == ("decimal", 10, 40.5, None)
    assert protocol["screening"]["fields"][3]["choices"] == ["restricting", "binge-purge"]
    assert protocol["screening"]["criteria"][2]["rule"]["value"] == datetime.date(2024, 1, 1)
    assert all(event["instruments"] == [] for event in protocol["schedule"])
    assert validate_protocol(protocol) == protocol


def test_single_arm_protocol_may_state_randomization_as_null() -> None:
    document = parse_protocol((CASES / "single-arm.yaml").read_text(encoding="utf-8"))
    document["randomization"] = None
    assert validate_protocol(document)["randomization"] is None


def test_stratifying_by_choice_and_boolean_fields_is_allowed() -> None:
    document = example()
    document["screening"]["fields"].append(
        {"name": "sex", "type": "choice", "label": "Sex", "choices": ["female", "male"]}
    )
    document["randomization"]["stratify_by"] = ["site", "sex", "mdd_current_episode"]
    protocol = validate_protocol(document)
    assert protocol["randomization"]["stratify_by"] == ["site", "sex", "mdd_current_episode"]


def test_integral_floats_are_normalized_to_integers() -> None:
    document = example()
    document["arms"][0]["dose_mg"] = 25.0
    document["arms"][1]["dose_mg"] = [10.0, 2.5]
    document["instruments"][0]["max"] = 60.0
    protocol = validate_protocol(document)
    assert protocol["arms"][0]["dose_mg"] == [25]
    assert isinstance(protocol["arms"][0]["dose_mg"][0], int)
    assert protocol["arms"][1]["dose_mg"] == [10, 2.5]
    assert isinstance(protocol["instruments"][0]["max"], int)


# Bad documents, table-driven -------------------------------------------------------------------

DELETE = object()
PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_path(document: Any, dotted: str, value: Any) -> None:
    """Set (or delete, with DELETE) the value at a path such as 'screening.criteria[3].rule.op'."""
    parts: list[Any] = [int(index) if index else key for key, index in PATH_PART.findall(dotted)]
    node = document
    for part in parts[:-1]:
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value


Mutation = dict[str, Any] | Callable[[dict[str, Any]], Any]


def mutate(document: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    if callable(mutation):
        mutation(document)
    else:
        for dotted, value in mutation.items():
            set_path(document, dotted, value)
    return document


def append_field(**field: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["screening"]["fields"].append(field)


BOOLEAN_HINT = " (quote it: YAML reads yes/no/on/off/true/false as booleans)"

# (case id, mutation of the COMP360 example, exact expected errors). COMP360 has arms P25, P10,
# P1 (ratio 2:1:1, total 4), ten screening fields (0: age_years integer 0..120, 1:
# mdd_current_episode boolean, ...), criteria I1..I7, E1, E2 (criteria[3] is I4) and schedule
# BASE, PREP1, PREP2, DOSE1, INT1A, INT1B, DOSE2, ... with instruments MADRS and QIDS-SR16.
BAD_CASES: list[tuple[str, Mutation, list[str]]] = [
    # top level
    ("format-string", {"format": "1"}, ["format: must be the integer 1, got '1'"]),
    ("format-bool", {"format": True}, ["format: must be the integer 1, got true"]),
    (
        "format-later",
        {"format": 2},
        ["format: must be the integer 1, got 2 (a later format: upgrade Dyad)"],
    ),
    ("format-missing", {"format": DELETE}, ["format: required"]),
    ("unknown-top-key", {"notes": "x"}, ["notes: unknown key"]),
    (
        "misspelled-top-key",
        {"instrument": []},
        ["instrument: unknown key (did you mean 'instruments'?)"],
    ),
    ("screening-missing", {"screening": DELETE}, ["screening: required"]),
    ("schedule-missing", {"schedule": DELETE}, ["schedule: required"]),
    # trial
    ("trial-not-mapping", {"trial": ["COMP360"]}, ["trial: must be a mapping, got a list"]),
    ("trial-code-pattern", {"trial.code": "comp360"}, ["trial.code: must match [A-Z0-9-]+"]),
    ("trial-code-missing", {"trial.code": DELETE}, ["trial.code: required"]),
    ("trial-sponsor-missing", {"trial.sponsor": DELETE}, ["trial.sponsor: required"]),
    ("trial-title-blank", {"trial.title": "  "}, ["trial.title: must not be blank"]),
    (
        "trial-indication-bool",
        {"trial.indication": True},
        ["trial.indication: must be a string, got true" + BOOLEAN_HINT],
    ),
    ("trial-phase-float", {"trial.phase": 2.5}, ["trial.phase: must be a string, got 2.5"]),
    (
        "trial-phase-list",
        {"trial.phase": ["2", "3"]},
        ["trial.phase: must be a string, got a list"],
    ),
    (
        "trial-unknown-key",
        {"trial.sponser": "x"},
        ["trial.sponser: unknown key (did you mean 'sponsor'?)"],
    ),
    ("trial-integer-key", lambda doc: doc["trial"].update({5: "x"}), ["trial.5: unknown key"]),
    (
        "trial-key-with-space",
        {"trial.sponsor name": "x"},
        ['trial."sponsor name": unknown key'],
    ),
    (
        "target-enrollment-zero",
        {"trial.target_enrollment": 0},
        ["trial.target_enrollment: must be a positive integer, got 0"],
    ),
    (
        "target-enrollment-bool",
        {"trial.target_enrollment": True},
        ["trial.target_enrollment: must be a positive integer, got true"],
    ),
    (
        "target-enrollment-string",
        {"trial.target_enrollment": "568"},
        ["trial.target_enrollment: must be a positive integer, got '568'"],
    ),
    (
        "target-enrollment-float",
        {"trial.target_enrollment": 568.0},
        ["trial.target_enrollment: must be a positive integer, got 568.0"],
    ),
    (
        "target-enrollment-too-large",
        {"trial.target_enrollment": 2**31},
        ["trial.target_enrollment: must be at most 2147483647, got 2147483648"],
    ),
    (
        "facilitators-too-many",
        {"trial.facilitators_per_dosing_session": 40_000},
        ["trial.facilitators_per_dosing_session: must be at most 32767, got 40000"],
    ),
    (
        "trial-code-too-long",
        {"trial.code": "C" * 41},
        ["trial.code: must be at most 40 characters long, got 41"],
    ),
    (
        "trial-phase-too-long",
        {"trial.phase": "phase 3, randomized and double-blind"},
        ["trial.phase: must be at most 20 characters long, got 36"],
    ),
    (
        "arm-label-too-long",
        {"arms[0].label": "x" * 201},
        ["arms[0].label: must be at most 200 characters long, got 201"],
    ),
    (
        "facilitators-zero",
        {"trial.facilitators_per_dosing_session": 0},
        ["trial.facilitators_per_dosing_session: must be a positive integer, got 0"],
    ),
    (
        "facilitator-licensed-string",
        {"trial.facilitator_requirements.licensed": "yes"},
        ["trial.facilitator_requirements.licensed: must be true or false, got 'yes'"],
    ),
    (
        "facilitator-licensed-int",
        {"trial.facilitator_requirements.licensed": 1},
        ["trial.facilitator_requirements.licensed: must be true or false, got 1"],
    ),
    (
        "facilitator-hours-negative",
        {"trial.facilitator_requirements.min_training_hours": -1},
        [
            "trial.facilitator_requirements.min_training_hours: "
            "must be a non-negative integer, got -1"
        ],
    ),
    (
        "facilitator-hours-bool",
        {"trial.facilitator_requirements.min_training_hours": False},
        [
            "trial.facilitator_requirements.min_training_hours: "
            "must be a non-negative integer, got false"
        ],
    ),
    (
        "facilitator-unknown-key",
        {"trial.facilitator_requirements.certified": True},
        ["trial.facilitator_requirements.certified: unknown key"],
    ),
    (
        "facilitator-requirements-list",
        {"trial.facilitator_requirements": ["licensed"]},
        ["trial.facilitator_requirements: must be a mapping, got a list"],
    ),
    (
        "dosing-safety-unknown-key",
        {"trial.dosing_safety.max_temperature": 38},
        ["trial.dosing_safety.max_temperature: unknown key"],
    ),
    (
        "dosing-safety-zero",
        {"trial.dosing_safety.max_heart_rate": 0},
        ["trial.dosing_safety.max_heart_rate: must be a positive integer, got 0"],
    ),
    (
        "dosing-safety-float",
        {"trial.dosing_safety.max_systolic_bp": 160.5},
        ["trial.dosing_safety.max_systolic_bp: must be a positive integer, got 160.5"],
    ),
    (
        "dosing-safety-swapped",
        {"trial.dosing_safety.max_systolic_bp": 100, "trial.dosing_safety.max_diastolic_bp": 160},
        ["trial.dosing_safety.max_diastolic_bp: must be below max_systolic_bp (100), got 160"],
    ),
    # arms
    ("arms-empty", {"arms": []}, ["arms: must not be empty"]),
    ("arms-mapping", {"arms": {"P25": 25}}, ["arms: must be a list, got a mapping"]),
    ("arm-not-mapping", {"arms[1]": "P10"}, ["arms[1]: must be a mapping, got 'P10'"]),
    ("arm-code-duplicate", {"arms[2].code": "P10"}, ["arms[2].code: duplicate arm code 'P10'"]),
    ("arm-code-pattern", {"arms[0].code": "P 25"}, ["arms[0].code: must match [A-Za-z0-9_-]+"]),
    ("arm-code-int", {"arms[0].code": 25}, ["arms[0].code: must be a string, got 25"]),
    ("arm-label-missing", {"arms[1].label": DELETE}, ["arms[1].label: required"]),
    ("arm-unknown-key", {"arms[0].colour": "red"}, ["arms[0].colour: unknown key"]),
    (
        "dose-negative",
        {"arms[1].dose_mg": -10},
        ["arms[1].dose_mg: must be a non-negative number or a list of 1 or 2 of them, got -10"],
    ),
    (
        "dose-bool",
        {"arms[1].dose_mg": True},
        ["arms[1].dose_mg: must be a non-negative number or a list of 1 or 2 of them, got true"],
    ),
    (
        "dose-three",
        {"arms[1].dose_mg": [10, 5, 5]},
        ["arms[1].dose_mg: must be a dose or a list of 1 or 2 doses, got 3 doses"],
    ),
    (
        "dose-empty-list",
        {"arms[1].dose_mg": []},
        ["arms[1].dose_mg: must be a dose or a list of 1 or 2 doses, got 0 doses"],
    ),
    (
        "dose-list-item",
        {"arms[1].dose_mg": [10, "5"]},
        ["arms[1].dose_mg[1]: must be a non-negative number, got '5'"],
    ),
    (
        "dose-nan",
        {"arms[0].dose_mg": math.nan},
        ["arms[0].dose_mg: must be a non-negative number or a list of 1 or 2 of them, got nan"],
    ),
    (
        "dose-infinite",
        {"arms[0].dose_mg": [math.inf]},
        ["arms[0].dose_mg[0]: must be a non-negative number, got inf"],
    ),
    # randomization
    (
        "randomization-missing-with-three-arms",
        {"randomization": DELETE},
        ["randomization: required when the trial has more than one arm"],
    ),
    (
        "randomization-list",
        {"randomization": [4, 8]},
        ["randomization: must be a mapping, got a list"],
    ),
    ("ratio-missing", {"randomization.ratio": DELETE}, ["randomization.ratio: required"]),
    (
        "ratio-missing-arm",
        {"randomization.ratio.P1": DELETE},
        ["randomization.ratio: missing arm 'P1'"],
    ),
    (
        "ratio-unknown-arm",
        {"randomization.ratio.P5": 1},
        ["randomization.ratio.P5: not an arm code"],
    ),
    (
        "ratio-zero",
        {"randomization.ratio.P10": 0},
        ["randomization.ratio.P10: must be a positive integer, got 0"],
    ),
    (
        "ratio-bool",
        {"randomization.ratio.P10": True},
        ["randomization.ratio.P10: must be a positive integer, got true"],
    ),
    (
        "block-size-not-multiple",
        {"randomization.block_sizes": [4, 6]},
        ["randomization.block_sizes[1]: 6 is not a multiple of the ratio total 4"],
    ),
    (
        "block-size-after-ratio-change",
        {"randomization.ratio.P25": 3},
        [
            "randomization.block_sizes[0]: 4 is not a multiple of the ratio total 5",
            "randomization.block_sizes[1]: 8 is not a multiple of the ratio total 5",
        ],
    ),
    (
        "block-sizes-empty",
        {"randomization.block_sizes": []},
        ["randomization.block_sizes: must not be empty"],
    ),
    (
        "block-size-bool",
        {"randomization.block_sizes": [4, True]},
        ["randomization.block_sizes[1]: must be a positive integer, got true"],
    ),
    (
        "stratify-by-integer-field",
        {"randomization.stratify_by": ["site", "age_years"]},
        [
            "randomization.stratify_by[1]: 'age_years' is of type integer; only 'site' and "
            "choice or boolean fields can stratify"
        ],
    ),
    (
        "stratify-by-unknown",
        {"randomization.stratify_by": ["clinic"]},
        ["randomization.stratify_by[0]: 'clinic' is neither 'site' nor a screening field"],
    ),
    (
        "stratify-by-duplicate",
        {"randomization.stratify_by": ["site", "site"]},
        ["randomization.stratify_by[1]: duplicate 'site'"],
    ),
    (
        "stratify-by-string",
        {"randomization.stratify_by": "site"},
        ["randomization.stratify_by: must be a list, got 'site'"],
    ),
    # screening.fields
    ("screening-list", {"screening": []}, ["screening: must be a mapping, got a list"]),
    ("fields-missing", {"screening.fields": DELETE}, ["screening.fields: required"]),
    (
        "field-name-pattern",
        append_field(name="Sex", type="boolean", label="Sex"),
        ["screening.fields[10].name: must match [a-z][a-z0-9_]* (snake_case)"],
    ),
    (
        "field-name-duplicate",
        append_field(name="age_years", type="integer", label="Age again"),
        ["screening.fields[10].name: duplicate field name 'age_years'"],
    ),
    (
        "field-name-site-reserved",
        append_field(name="site", type="choice", label="Site", choices=["a", "b"]),
        ["screening.fields[10].name: 'site' is reserved for stratifying by site"],
    ),
    (
        "field-type-unknown",
        {"screening.fields[9].type": "bool"},
        [
            "screening.fields[9].type: must be one of integer, decimal, boolean, date, choice, "
            "text, got 'bool'"
        ],
    ),
    (
        "field-label-missing",
        {"screening.fields[0].label": DELETE},
        ["screening.fields[0].label: required"],
    ),
    (
        "field-unit-number",
        {"screening.fields[0].unit": 5},
        ["screening.fields[0].unit: must be a string, got 5"],
    ),
    (
        "field-unknown-key",
        {"screening.fields[0].default": 18},
        ["screening.fields[0].default: unknown key"],
    ),
    (
        "field-min-on-boolean",
        {"screening.fields[1].min": 0},
        ["screening.fields[1].min: only allowed for integer and decimal fields, not boolean"],
    ),
    (
        "field-min-not-integer",
        {"screening.fields[0].min": 0.5},
        ["screening.fields[0].min: must be an integer, got 0.5"],
    ),
    (
        "field-max-string",
        {"screening.fields[0].max": "120"},
        ["screening.fields[0].max: must be an integer, got '120'"],
    ),
    (
        "field-min-above-max",
        {"screening.fields[4].min": 30, "screening.fields[4].max": 12},
        # (the rule using the field is not checked against contradictory bounds)
        ["screening.fields[4].max: must be at least min (30), got 12"],
    ),
    (
        "choice-without-choices",
        append_field(name="sex", type="choice", label="Sex"),
        ["screening.fields[10].choices: required for choice fields"],
    ),
    (
        "choices-on-integer",
        {"screening.fields[0].choices": ["young", "old"]},
        ["screening.fields[0].choices: only allowed for choice fields, not integer"],
    ),
    (
        "choices-empty",
        append_field(name="sex", type="choice", label="Sex", choices=[]),
        ["screening.fields[10].choices: must not be empty"],
    ),
    (
        "choices-duplicate",
        append_field(name="sex", type="choice", label="Sex", choices=["f", "m", "f"]),
        ["screening.fields[10].choices[2]: duplicate choice 'f'"],
    ),
    (
        "choices-not-strings",
        append_field(name="sex", type="choice", label="Sex", choices=["f", 1]),
        ["screening.fields[10].choices[1]: must be a string, got 1"],
    ),
    # screening.criteria
    ("criteria-missing", {"screening.criteria": DELETE}, ["screening.criteria: required"]),
    ("criteria-empty", {"screening.criteria": []}, ["screening.criteria: must not be empty"]),
    (
        "criterion-unknown-operator",
        {"screening.criteria[3].rule": {"field": "age_years", "op": "gte", "value": 18}},
        ["screening.criteria[3].rule.op: unknown operator 'gte'"],
    ),
    (
        "criterion-id-duplicate",
        {"screening.criteria[1].id": "I1"},
        ["screening.criteria[1].id: duplicate criterion id 'I1'"],
    ),
    (
        "criterion-id-pattern",
        {"screening.criteria[0].id": "I 1"},
        ["screening.criteria[0].id: must match [A-Za-z0-9_-]+"],
    ),
    (
        "criterion-kind",
        {"screening.criteria[0].kind": "include"},
        ["screening.criteria[0].kind: must be one of inclusion, exclusion, got 'include'"],
    ),
    (
        "criterion-text-missing",
        {"screening.criteria[0].text": DELETE},
        ["screening.criteria[0].text: required"],
    ),
    (
        "criterion-rule-missing",
        {"screening.criteria[0].rule": DELETE},
        ["screening.criteria[0].rule: required"],
    ),
    (
        "criterion-unknown-key",
        {"screening.criteria[0].note": "x"},
        ["screening.criteria[0].note: unknown key"],
    ),
    (
        "rule-unknown-field",
        {"screening.criteria[0].rule.field": "age"},
        ["screening.criteria[0].rule.field: unknown field 'age'"],
    ),
    (
        "rule-operator-wrong-type",
        {"screening.criteria[1].rule": {"field": "mdd_current_episode", "op": "gt", "value": 1}},
        [
            "screening.criteria[1].rule.op: operator 'gt' does not apply to boolean field "
            "'mdd_current_episode'"
        ],
    ),
    (
        "rule-value-above-field-max",
        {"screening.criteria[0].rule.value": 150},
        ["screening.criteria[0].rule.value: 150 is above the maximum 120 of field 'age_years'"],
    ),
    (
        "renamed-field-leaves-rule-dangling",
        {"screening.fields[0].name": "Age"},
        [
            "screening.fields[0].name: must match [a-z][a-z0-9_]* (snake_case)",
            "screening.criteria[0].rule.field: unknown field 'age_years'",
        ],
    ),
    # schedule
    ("schedule-empty", {"schedule": []}, ["schedule: must not be empty"]),
    (
        "anchor-unknown",
        {"schedule[4].anchor": "DOSE9"},
        ["schedule[4].anchor: 'DOSE9' is not an earlier dosing event"],
    ),
    (
        "anchor-later-dosing-event",
        {"schedule[3].anchor": "DOSE2"},
        ["schedule[3].anchor: 'DOSE2' is not an earlier dosing event"],
    ),
    (
        "anchor-non-dosing-event",
        {"schedule[4].anchor": "BASE"},
        ["schedule[4].anchor: 'BASE' is not an earlier dosing event"],
    ),
    (
        "anchor-itself",
        {"schedule[6].anchor": "DOSE2"},
        ["schedule[6].anchor: 'DOSE2' is not an earlier dosing event"],
    ),
    (
        "event-code-duplicate",
        {"schedule[1].code": "BASE"},
        ["schedule[1].code: duplicate event code 'BASE'"],
    ),
    (
        "event-code-reserved",
        {"schedule[0].code": "randomization"},
        ["schedule[0].code: 'randomization' is reserved for the anchor"],
    ),
    (
        "event-kind",
        {"schedule[0].kind": "visit"},
        [
            "schedule[0].kind: must be one of preparation, dosing, integration, assessment, "
            "follow_up, got 'visit'"
        ],
    ),
    ("event-label-missing", {"schedule[0].label": DELETE}, ["schedule[0].label: required"]),
    ("event-day-float", {"schedule[0].day": 1.5}, ["schedule[0].day: must be an integer, got 1.5"]),
    (
        "event-day-bool",
        {"schedule[0].day": False},
        ["schedule[0].day: must be an integer, got false"],
    ),
    ("event-window-missing", {"schedule[0].window": DELETE}, ["schedule[0].window: required"]),
    (
        "window-early-positive",
        {"schedule[1].window": [1, 3]},
        ["schedule[1].window[0]: early must be 0 or less, got 1"],
    ),
    (
        "window-late-negative",
        {"schedule[1].window": [-3, -1]},
        ["schedule[1].window[1]: late must be 0 or more, got -1"],
    ),
    (
        "window-one-item",
        {"schedule[1].window": [3]},
        ["schedule[1].window: must be a list [early, late] of two integers, got a list"],
    ),
    (
        "window-number",
        {"schedule[1].window": 3},
        ["schedule[1].window: must be a list [early, late] of two integers, got 3"],
    ),
    (
        "window-string-item",
        {"schedule[1].window": ["0", 3]},
        ["schedule[1].window[0]: must be an integer, got '0'"],
    ),
    (
        "event-instrument-undeclared",
        {"schedule[0].instruments": ["MADRS", "HAMD"]},
        ["schedule[0].instruments[1]: 'HAMD' is not a declared instrument"],
    ),
    (
        "event-instrument-duplicate",
        {"schedule[0].instruments": ["MADRS", "MADRS"]},
        ["schedule[0].instruments[1]: duplicate instrument 'MADRS'"],
    ),
    (
        "instruments-absent-but-used",
        {"instruments": DELETE},
        [
            "schedule[0].instruments[0]: 'MADRS' is not a declared instrument",
            "schedule[0].instruments[1]: 'QIDS-SR16' is not a declared instrument",
            "schedule[5].instruments[0]: 'MADRS' is not a declared instrument",
            "schedule[9].instruments[0]: 'MADRS' is not a declared instrument",
            "schedule[10].instruments[0]: 'MADRS' is not a declared instrument",
            "schedule[10].instruments[1]: 'QIDS-SR16' is not a declared instrument",
            "schedule[11].instruments[0]: 'MADRS' is not a declared instrument",
            "schedule[12].instruments[0]: 'MADRS' is not a declared instrument",
        ],
    ),
    (
        "event-unknown-key",
        {"schedule[0].visit_number": 1},
        ["schedule[0].visit_number: unknown key"],
    ),
    # instruments
    # (a broken instruments section is reported once, not again at every event using it)
    (
        "instruments-mapping",
        {"instruments": {"MADRS": {}}},
        ["instruments: must be a list, got a mapping"],
    ),
    (
        "instrument-code-duplicate",
        {"instruments[1].code": "MADRS"},
        [  # file order: COMP360 has its instruments after its schedule
            "schedule[0].instruments[1]: 'QIDS-SR16' is not a declared instrument",
            "schedule[10].instruments[1]: 'QIDS-SR16' is not a declared instrument",
            "instruments[1].code: duplicate instrument code 'MADRS'",
        ],
    ),
    (
        "instrument-max-not-above-min",
        {"instruments[0].max": 0},
        ["instruments[0].max: must be above min (0), got 0"],
    ),
    ("instrument-min-missing", {"instruments[0].min": DELETE}, ["instruments[0].min: required"]),
    (
        "instrument-min-bool",
        {"instruments[0].min": False},
        ["instruments[0].min: must be a number, got false"],
    ),
    (
        "instrument-higher-is-worse-string",
        {"instruments[0].higher_is_worse": "no"},
        ["instruments[0].higher_is_worse: must be true or false, got 'no'"],
    ),
    (
        "instrument-label-missing",
        {"instruments[1].label": DELETE},
        ["instruments[1].label: required"],
    ),
]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [pytest.param(mutation, expected, id=case) for case, mutation, expected in BAD_CASES],
)
def test_bad_document_is_rejected_with_placed_errors(
    mutation: Mutation, expected: list[str]
) -> None:
    assert errors_of(mutate(example(), mutation)) == expected


def test_bad_case_ids_are_unique_and_plentiful() -> None:
    ids = [case for case, _, _ in BAD_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 30


def test_randomization_is_optional_for_a_single_arm() -> None:
    document = example()
    document["arms"] = document["arms"][:1]
    del document["randomization"]
    assert validate_protocol(document)["randomization"] is None


def test_ratio_is_not_checked_against_arm_codes_that_are_themselves_broken() -> None:
    document = example()
    document["arms"][2]["code"] = "P 1"
    # "P1" in the ratio may well be meant for the misspelled arm: one error, not three.
    assert errors_of(document) == ["arms[2].code: must match [A-Za-z0-9_-]+"]


def test_errors_in_one_file_are_all_reported_in_file_order() -> None:
    document = mutate(
        example(),
        {
            "instruments[0].max": -1,
            "schedule[4].anchor": "DOSE9",
            "screening.criteria[3].rule.any[0].op": "gte",
            "randomization.block_sizes[1]": 6,
            "arms[2].code": "P10",
            "trial.code": "comp360",
            "format": 2,
            "extra": True,
        },
    )
    assert errors_of(document) == [
        "format: must be the integer 1, got 2 (a later format: upgrade Dyad)",
        "trial.code: must match [A-Z0-9-]+",
        "arms[2].code: duplicate arm code 'P10'",
        "screening.criteria[3].rule.any[0].op: unknown operator 'gte'",
        "schedule[4].anchor: 'DOSE9' is not an earlier dosing event",
        "instruments[0].max: must be above min (0), got -1",
        "extra: unknown key",
    ]


def test_file_order_follows_the_document_not_the_validator() -> None:
    document = example()
    reordered = {key: document[key] for key in reversed(list(document))}
    reordered["trial"]["target_enrollment"] = 0
    reordered["format"] = "one"
    assert errors_of(reordered) == [
        "trial.target_enrollment: must be a positive integer, got 0",
        "format: must be the integer 1, got 'one'",
    ]


def test_protocol_error_carries_every_error_and_prints_one_per_line() -> None:
    document = mutate(example(), {"trial.code": "x", "arms": []})
    with pytest.raises(ProtocolError) as caught:
        validate_protocol(document)
    error = caught.value
    assert isinstance(error, ValueError)
    # (with no usable arms, the ratio's keys are not reported one by one as well)
    assert error.errors == ["trial.code: must match [A-Z0-9-]+", "arms: must not be empty"]
    assert str(error) == "\n".join(error.errors)


def test_yaml_pitfalls_are_reported_not_coerced() -> None:
    with pytest.raises(ProtocolError) as caught:
        load_protocol_text((CASES / "yaml-pitfalls.yaml").read_text(encoding="utf-8"))
    assert caught.value.errors == [
        "trial.code: must be a string, got false" + BOOLEAN_HINT,
        "trial.phase: must be a string, got 2.5",
        "trial.sponsor: must be a string, got date 2024-01-01 (quote it: YAML reads it as a date)",
        "screening.fields[0].choices[0]: must be a string, got true" + BOOLEAN_HINT,
        "screening.fields[0].choices[1]: must be a string, got false" + BOOLEAN_HINT,
        "screening.criteria[0].rule.value: expected a string, got False",
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param([], "(file): the top level must be a mapping, got a list", id="list"),
        pytest.param(
            "format: 1", "(file): the top level must be a mapping, got 'format: 1'", id="str"
        ),
        pytest.param(None, "(file): the top level must be a mapping, got null", id="none"),
        pytest.param(1, "(file): the top level must be a mapping, got 1", id="int"),
    ],
)
def test_top_level_must_be_a_mapping(document: object, expected: str) -> None:
    assert errors_of(document) == [expected]


def test_empty_mapping_reports_every_required_section() -> None:
    assert errors_of({}) == [
        "format: required",
        "trial: required",
        "arms: required",
        "screening: required",
        "schedule: required",
    ]


def test_recursive_and_oversized_documents_are_errors_not_crashes() -> None:
    document = example()
    loop: dict[str, object] = {"not": None}
    document["screening"]["criteria"][0]["rule"] = loop
    loop["not"] = loop
    assert errors_of(document) == [
        "screening.criteria[0].rule.not: contains itself (a recursive YAML alias?)"
    ]
    deep: Any = {"field": "age_years", "op": "ge", "value": 18}
    for _ in range(100):
        deep = {"not": deep}
    document = example()
    document["screening"]["criteria"][0]["rule"] = deep
    (message,) = errors_of(document)
    assert message.startswith("screening.criteria[0].rule.not.not.") and message.endswith(
        ": nested more than 64 levels deep"
    )


def test_foreign_values_and_huge_integers_are_errors() -> None:
    document = example()
    document["trial"]["target_enrollment"] = 10**5000  # str() of it would raise ValueError
    document["arms"][0]["label"] = {"a", "set"}
    document["screening"]["criteria"][0]["rule"]["value"] = 10**20  # checked by the rule: max 120
    document["screening"]["criteria"][1]["rule"]["extra"] = math.nan  # covered by the rule's error
    document["notes"] = [math.nan]  # covered by "unknown key"
    assert errors_of(document) == [
        "trial.target_enrollment: must be a positive integer, got a very large integer",
        "arms[0].label: must be a string, got a value of type set",
        "screening.criteria[0].rule.value: 100000000000000000000 is above the maximum 120 of "
        "field 'age_years'",
        "screening.criteria[1].rule: unexpected key 'extra'",
        "notes: unknown key",
    ]


def test_rule_values_get_the_generic_number_checks() -> None:
    document = example()
    document["screening"]["fields"].append({"name": "weight", "type": "decimal", "label": "W"})
    criteria = document["screening"]["criteria"]
    criteria[0]["rule"] = {"field": "weight", "op": "eq", "value": 10**20}  # no max to catch it
    criteria[1]["rule"] = {"field": "weight", "op": "in", "value": [1.5, math.nan]}
    assert errors_of(document) == [
        "screening.criteria[0].rule.value: integer too large (more than 1000000000000000)",
        "screening.criteria[1].rule.value[1]: expected a number, got nan",
    ]


def test_a_crash_in_the_rule_checker_is_still_a_protocol_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(rule: object, fields: object, place: str) -> list[str]:
        raise RuntimeError("bug in screening.rules")

    monkeypatch.setattr("trials.study.protocol.validate.rule_errors", broken)
    document = example()
    document["screening"]["criteria"] = document["screening"]["criteria"][:2]
    assert errors_of(document) == [
        "screening.criteria[0].rule: cannot be checked (RuntimeError)",
        "screening.criteria[1].rule: cannot be checked (RuntimeError)",
    ]


def test_no_unserializable_value_gets_through_even_with_a_lax_rule_checker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "trials.study.protocol.validate.rule_errors", lambda rule, fields, place: []
    )
    document = example()
    criteria = document["screening"]["criteria"]
    criteria[0]["rule"]["value"] = math.nan
    criteria[1]["rule"]["value"] = -math.inf
    criteria[2]["rule"]["value"] = 10**5000
    criteria[3]["rule"]["any"][1]["value"] = [b"3", object()]
    assert errors_of(document) == [
        "screening.criteria[0].rule.value: must be a finite number",
        "screening.criteria[1].rule.value: must be a finite number",
        "screening.criteria[2].rule.value: integer too large (more than 1000000000000000)",
        "screening.criteria[3].rule.any[1].value[0]: unsupported value of type bytes",
        "screening.criteria[3].rule.any[1].value[1]: unsupported value of type object",
    ]


def test_protocol_error_survives_pickling() -> None:
    error = ProtocolError(["trial.code: required", "arms: must not be empty"])
    copied = pickle.loads(pickle.dumps(error))
    assert copied.errors == error.errors
    assert str(copied) == "trial.code: required\narms: must not be empty"
    assert ProtocolError("(file): the file is empty").errors == ["(file): the file is empty"]


# Parsing ---------------------------------------------------------------------------------------


def parse_errors(content: str | bytes, filename: str = "") -> list[str]:
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(content, filename=filename)
    return caught.value.errors


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        pytest.param(
            "format: 1\ntrial: [a, b\narms: []\n",
            "p.yaml",
            "(file): line 3, column 5: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence started on line 2)",
            id="yaml-unclosed-list",
        ),
        pytest.param(
            "format: 1\n  bad: indent\n",
            "",
            "(file): line 2, column 6: mapping values are not allowed here",
            id="yaml-indent",
        ),
        pytest.param(
            "format: 1\ntrial:\n  code: X\n  code: Y\n",
            "",
            "(file): line 4, column 3: found duplicate key 'code' "
            "(while constructing a mapping started on line 3)",
            id="yaml-duplicate-key",
        ),
        pytest.param(
            "format: 1\n---\nformat: 1\n",
            "",
            "(file): line 2, column 1: but found another document "
            "(expected a single document in the stream started on line 1)",
            id="yaml-two-documents",
        ),
        pytest.param(
            "visit: 2024-13-45\n",
            "",
            "(file): line 1, column 8: invalid value '2024-13-45': month must be in 1..12",
            id="yaml-impossible-date",
        ),
        pytest.param(
            "a: !!python/object/apply:os.system [echo]\n",
            "",
            "(file): line 1, column 4: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'",
            id="yaml-python-tag",
        ),
        pytest.param("a: \x00\n", "", "(file): line 1: unacceptable character '\\x00'", id="nul"),
        pytest.param(
            '{"format": 1,\n "trial": }',
            "p.json",
            "(file): line 2, column 11: Expecting value",
            id="json-syntax",
        ),
        pytest.param(
            '{"format": 1, "format": 1}', "p.json", "(file): duplicate key 'format'", id="json-dup"
        ),
        pytest.param(
            '{"format": NaN}', "p.JSON", "(file): NaN is not a valid JSON number", id="json-nan"
        ),
        pytest.param("", "", "(file): the file is empty", id="empty"),
        pytest.param("  \n\n", "", "(file): the file is empty", id="blank"),
        pytest.param("# nothing\n", "", "(file): the file contains no data", id="comment-only"),
        pytest.param(
            "- format: 1\n", "", "(file): the top level must be a mapping, got a list", id="list"
        ),
        pytest.param(
            "format\n", "", "(file): the top level must be a mapping, got 'format'", id="scalar"
        ),
        pytest.param(
            b"format: \xff\n", "", "(file): not UTF-8 text (invalid byte at offset 8)", id="bytes"
        ),
        pytest.param("[" * 5000, "", "(file): nesting is too deep", id="deep-yaml"),
        pytest.param("[" * 5000, "x.json", "(file): nesting is too deep", id="deep-json"),
        pytest.param(12, "", "(file): expected text, got int", id="not-text"),
    ],
)
def test_parse_errors_name_the_file_and_line(
    content: str | bytes, filename: str, expected: str
) -> None:
    assert parse_errors(content, filename) == [expected]


def test_json_is_tried_first_and_yaml_flow_mappings_still_work() -> None:
    # Not JSON (unquoted keys), but a YAML flow mapping: accepted.
    assert parse_protocol("{format: 1, trial: {code: X}}") == {"format": 1, "trial": {"code": "X"}}
    # JSON reads 1e3 as a number; PyYAML (YAML 1.1) would have read the string '1e3'.
    assert parse_protocol('{"n": 1e3}') == {"n": 1000.0}
    assert parse_protocol("n: 1e3") == {"n": "1e3"}
    # A .json file is JSON only: no YAML fallback hiding a JSON mistake.
    assert parse_errors("{format: 1}", "p.json") == [
        "(file): line 1, column 2: Expecting property name enclosed in double quotes"
    ]


def test_bytes_and_byte_order_mark_are_accepted() -> None:
    text = example_text(COMP360)
    expected = parse_protocol(text)
    assert parse_protocol(text.encode("utf-8")) == expected
    assert parse_protocol(b"\xef\xbb\xbf" + text.encode("utf-8")) == expected
    assert parse_protocol("\ufeff" + text) == expected


def test_yaml_aliases_and_merge_keys_are_fine_when_finite() -> None:
    text = "base: &w {early: -3, late: 3}\na: *w\nb:\n  <<: *w\n  late: 7\n"
    assert parse_protocol(text) == {
        "base": {"early": -3, "late": 3},
        "a": {"early": -3, "late": 3},
        "b": {"early": -3, "late": 7},
    }


def test_alias_bombs_and_recursive_aliases_are_rejected() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    bomb = parse_protocol("\n".join(lines) + "\n")  # cheap to build: aliases are shared
    assert errors_of(bomb) == ["(file): too large (more than 100000 values)"]

    recursive = parse_protocol("format: 1\ntrial: &t\n  self: *t\n")
    assert errors_of(recursive) == ["trial.self: contains itself (a recursive YAML alias?)"]


def test_load_protocol_text_parses_then_validates() -> None:
    assert load_protocol_text(example_text(MAPP1))["trial"]["code"] == "MAPP1"
    with pytest.raises(ProtocolError) as caught:
        load_protocol_text(example_text(MAPP1).replace("code: PBO", "code: MDMA"))
    assert caught.value.errors == [
        "arms[1].code: duplicate arm code 'MDMA'",
    ]


# Canonical form and content hash ---------------------------------------------------------------


def reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reverse_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reverse_keys(item) for item in value]
    return value


@pytest.mark.parametrize("name", [COMP360, MAPP1])
def test_yaml_and_json_of_the_same_content_hash_alike(name: str) -> None:
    from_yaml = load_protocol_text(example_text(name), filename=name)
    json_text = json.dumps(reverse_keys(example(name)), indent=2, default=str)
    from_json = load_protocol_text(json_text, filename=name.replace(".yaml", ".json"))
    assert canonical_json(from_json) == canonical_json(from_yaml)
    assert content_hash(from_json) == content_hash(from_yaml)
    # and re-dumped YAML with other formatting
    redumped = yaml.safe_dump(reverse_keys(example(name)), sort_keys=False, default_flow_style=True)
    assert content_hash(load_protocol_text(redumped)) == content_hash(from_yaml)


def test_fixture_yaml_and_json_files_hash_alike() -> None:
    from_yaml = load_protocol_text(
        (CASES / "single-arm.yaml").read_bytes(), filename="single-arm.yaml"
    )
    from_json = load_protocol_text(
        (CASES / "single-arm.json").read_bytes(), filename="single-arm.json"
    )
    # YAML gave a date object where JSON gave the ISO string: equal once canonical.
    assert from_yaml["screening"]["criteria"][2]["rule"]["value"] == datetime.date(2024, 1, 1)
    assert from_json["screening"]["criteria"][2]["rule"]["value"] == "2024-01-01"
    assert canonical_json(from_yaml) == canonical_json(from_json)
    assert content_hash(from_yaml) == content_hash(from_json)


def test_key_order_does_not_change_the_hash() -> None:
    protocol = validate_protocol(example())
    assert canonical_json(reverse_keys(protocol)) == canonical_json(protocol)
    assert content_hash(validate_protocol(reverse_keys(example()))) == content_hash(protocol)


def test_spelled_out_defaults_do_not_change_the_hash() -> None:
    implicit = example()
    explicit = example()
    del implicit["trial"]["facilitators_per_dosing_session"]  # default 2, as in the file
    explicit["instruments"][0]["higher_is_worse"] = True
    explicit["schedule"][1]["instruments"] = []
    explicit["trial"]["phase"] = 3  # normalized to "3"
    explicit["arms"][0]["dose_mg"] = [25.0]  # normalized to [25]
    assert content_hash(validate_protocol(implicit)) == content_hash(validate_protocol(explicit))


@pytest.mark.parametrize(
    "change",
    [
        {"trial.title": "Another title"},
        {"arms[0].label": "COMP360 25 mg "},
        {"randomization.block_sizes": [8, 4]},
        {"screening.criteria[0].rule.value": 19},
        {"schedule[1].window": [0, 4]},
        {"instruments[0].higher_is_worse": False},
        {"trial.facilitator_requirements.licensed": False},
    ],
    ids=lambda change: next(iter(change)),
)
def test_changed_content_changes_the_hash(change: dict[str, Any]) -> None:
    original = content_hash(validate_protocol(example()))
    assert content_hash(validate_protocol(mutate(example(), change))) != original


def test_canonical_json_is_compact_sorted_and_iso_dated() -> None:
    text = canonical_json({"b": [1, {"d": datetime.date(2024, 1, 2), "c": "é"}], "a": None})
    assert text == '{"a":null,"b":[1,{"c":"é","d":"2024-01-02"}]}'
    assert content_hash({"a": 1}) == content_hash({"a": 1})
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash({"a": 1}))
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_format_version_constant() -> None:
    assert FORMAT_VERSION == 1


# Property-based: nothing but ProtocolError, whatever comes in ----------------------------------

KNOWN_WORDS = [
    "format", "trial", "arms", "randomization", "screening", "schedule", "instruments", "code",
    "label", "dose_mg", "ratio", "block_sizes", "stratify_by", "fields", "criteria", "name",
    "type", "min", "max", "choices", "id", "kind", "text", "rule", "field", "op", "value", "all",
    "any", "not", "anchor", "day", "window", "site", "integer", "choice", "boolean", "dosing",
    "between", "in", "is_true", "gte", "P25", "DOSE1", "MADRS", "age_years",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(KNOWN_WORDS),
    st.dates(),
)
keys = st.one_of(st.sampled_from(KNOWN_WORDS), st.text(max_size=8), st.integers(), st.booleans())
garbage = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)
garbage_documents = st.one_of(
    garbage,
    st.dictionaries(
        st.sampled_from(
            ["format", "trial", "arms", "randomization", "screening", "schedule", "instruments"]
        ),
        garbage,
        max_size=7,
    ),
)


def check_outcome(document: object) -> None:
    """validate_protocol either returns a usable protocol or raises ProtocolError: nothing else."""
    try:
        protocol = validate_protocol(document)
    except ProtocolError as error:
        assert error.errors, "a ProtocolError must list at least one error"
        for message in error.errors:
            assert isinstance(message, str)
            place, sep, text = message.partition(": ")
            assert sep and place and text, message
        assert len(set(error.errors)) == len(error.errors)
        return
    assert validate_protocol(protocol) == protocol
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(protocol))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage_documents)
def test_garbage_documents_raise_only_protocol_error(document: object) -> None:
    check_outcome(document)


def all_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += all_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += all_paths(item, (*path, index))
    return paths


BASE_DOCUMENTS = {name: parse_protocol(example_text(name)) for name in (COMP360, MAPP1)}
BASE_PATHS = {name: all_paths(document)[1:] for name, document in BASE_DOCUMENTS.items()}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_mutations_of_valid_examples_raise_only_protocol_error(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(BASE_DOCUMENTS)))
    document = copy.deepcopy(BASE_DOCUMENTS[name])
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(BASE_PATHS[name]))
        parent: Any = document
        try:
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this place
        action = data.draw(st.sampled_from(["replace", "delete", "add-key", "swap-type"]))
        if action == "replace":
            parent[path[-1]] = data.draw(garbage)
        elif action == "delete":
            del parent[path[-1]]
        elif action == "add-key" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][data.draw(keys)] = data.draw(garbage)
        else:
            old = parent[path[-1]]
            parent[path[-1]] = [old] if not isinstance(old, list) else {"x": old}
    check_outcome(document)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(
            st.sampled_from(
                [
                    "format: 1\n",
                    "trial:\n",
                    "  code: X\n",
                    "- ",
                    "[",
                    "]",
                    "{",
                    "}",
                    ": ",
                    "&a ",
                    "*a ",
                    "!!str ",
                    "!!int ",
                    "2024-02-30",
                    "? ",
                    "'",
                    '"',
                    "\n",
                    "  ",
                    "---\n",
                    "<<: ",
                    "!!binary ",
                    "~",
                    "yes",
                    ",",
                    "#",
                    "\t",
                    "%YAML 1.1\n",
                ]
            ),
            max_size=40,
        ).map("".join),
        st.binary(max_size=100),
    ),
    st.sampled_from(["", "p.yaml", "p.json"]),
)
def test_random_text_raises_only_protocol_error(content: str | bytes, filename: str) -> None:
    try:
        document = parse_protocol(content, filename=filename)
    except ProtocolError as error:
        assert error.errors and all(message.startswith("(file): ") for message in error.errors)
        return
    assert isinstance(document, dict)
    check_outcome(document)
