"""manage.py check_eligibility: a dry run over a file of candidates, one JSON verdict per line."""

import io
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, ManagementUtility, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.management.commands import check_eligibility as command
from tests.factories import TrialFactory
from trials.study.models import ProtocolVersion
from trials.study.services import protocol_load

MAPP1_FILE = Path(__file__).resolve().parents[2] / "trials" / "protocols" / "mapp1.yaml"
EXCLUSIONS = [
    "history_psychotic_disorder",
    "bipolar_i_disorder",
    "dissociative_identity_disorder",
    "eating_disorder_with_active_purging",
    "mdd_with_psychotic_features",
    "personality_disorder",
    "current_alcohol_or_substance_use_disorder",
    "pregnant_or_lactating",
    "uncontrolled_hypertension",
    "history_arrhythmia",
    "marked_baseline_qtc_prolongation",
]
ELIGIBLE = {
    "age_years": 35,
    "ptsd_dsm5_current": True,
    "ptsd_symptom_duration_months": 24,
    "caps5_total": 44,
    "agrees_overnight_stay_after_dosing": True,
    **dict.fromkeys(EXCLUSIONS, False),
}
VERDICT_KEYS = ["id", "result", "failed", "missing", "missing_fields", "protocol_version"]


def eligible_line(candidate_id, version=1):
    return {
        "id": candidate_id,
        "result": "eligible",
        "failed": [],
        "missing": [],
        "missing_fields": [],
        "protocol_version": version,
    }


def invalid_line(candidate_id, errors, version=1):
    return {"id": candidate_id, "result": "invalid", "errors": errors, "protocol_version": version}


@pytest.fixture
def mapp1_v1(db):
    """MAPP1 with its protocol file loaded, as the data manager does."""
    return protocol_load(content=MAPP1_FILE.read_bytes(), filename="mapp1.yaml", by=None)[0]


@pytest.fixture
def mapp1_v2_minimum_age_21(mapp1_v1):
    """An amendment of MAPP1 raising the minimum age from 18 to 21."""
    amended = MAPP1_FILE.read_text().replace("op: ge\n      value: 18", "op: ge\n      value: 21")
    return protocol_load(content=amended, filename="mapp1-amendment-1.yaml", by=None)[0]


@pytest.fixture
def candidates_file(tmp_path):
    """Writes a candidates file (JSON-encoded unless given as str or bytes) and returns its path."""

    def write(content, name="candidates.json"):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    return write


def dry_run(path, *options, trial_code="MAPP1"):
    """Run the command; its output parsed, one dict per line."""
    out = io.StringIO()
    call_command("check_eligibility", trial_code, str(path), *options, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_prints_one_verdict_per_candidate_in_input_order(mapp1_v1, candidates_file):
    lines = dry_run(
        candidates_file(
            [
                {"id": "C-001", "data": ELIGIBLE},
                {"id": "C-002", "data": {**ELIGIBLE, "age_years": 17, "caps5_total": 20}},
                {"id": 3, "data": {**ELIGIBLE, "caps5_total": None}},
                {"id": "C-004", "data": {**ELIGIBLE, "bipolar_i_disorder": True}},
            ]
        )
    )
    assert lines == [
        eligible_line("C-001"),
        {**eligible_line("C-002"), "result": "ineligible", "failed": ["I1", "I4"]},
        {
            **eligible_line(3),
            "result": "incomplete",
            "missing": ["I4"],
            "missing_fields": ["caps5_total"],
        },
        {**eligible_line("C-004"), "result": "ineligible", "failed": ["E2"]},
    ]
    assert all(list(line) == VERDICT_KEYS for line in lines)


def test_invalid_data_gives_an_invalid_line_and_the_others_are_still_evaluated(
    mapp1_v1, candidates_file
):
    lines = dry_run(
        candidates_file(
            [
                {"id": "C-001", "data": ELIGIBLE},
                {"id": "C-002", "data": {**ELIGIBLE, "age_years": 150, "shoe_size": 44}},
                {"id": "C-003", "data": {**ELIGIBLE, "ptsd_dsm5_current": "yes"}},
                {"id": "C-004", "data": ELIGIBLE},
            ]
        )
    )
    assert lines == [
        eligible_line("C-001"),
        invalid_line(
            "C-002",
            {
                "data": {
                    "age_years": ["150 is above the maximum 120 of field 'age_years'"],
                    "shoe_size": ["unknown field"],
                }
            },
        ),
        invalid_line(
            "C-003", {"data": {"ptsd_dsm5_current": ["expected true or false, got 'yes'"]}}
        ),
        eligible_line("C-004"),
    ]


def not_a_candidate(kind):
    """The errors of an entry that is not an object at all: neither id nor data can be read."""
    message = f'Expected a JSON object {{"id": ..., "data": {{field name: value}}}}, got {kind}.'
    return {"id": [message], "data": [message]}


@pytest.mark.parametrize(
    ("entry", "expected_id", "errors"),
    [
        (["C-001", ELIGIBLE], None, not_a_candidate("an array")),
        ("C-001", None, not_a_candidate("a string")),
        (None, None, not_a_candidate("null")),
        ({"data": ELIGIBLE}, None, {"id": ["This field is required."]}),
        ({"id": None, "data": ELIGIBLE}, None, {"id": ["This field may not be null."]}),
        (
            {"id": ["C-001"], "data": ELIGIBLE},
            None,
            {"id": ["Expected a string or an integer, got an array."]},
        ),
        (
            {"id": True, "data": ELIGIBLE},
            None,
            {"id": ["Expected a string or an integer, got true/false."]},
        ),
        ({"id": "C-001"}, "C-001", {"data": ["This field is required."]}),
        (
            {"id": "C-001", "data": [ELIGIBLE]},
            "C-001",
            {"data": ["Expected an object {field name: value}, got an array."]},
        ),
        (
            {"id": "C-001", "data": {"age_years": [35]}},
            "C-001",
            {
                "data": {
                    "age_years": [
                        "Expected a single value (a string, a number or true/false), got an array."
                    ]
                }
            },
        ),
    ],
    ids=[
        "array",
        "string",
        "null",
        "no-id",
        "null-id",
        "array-id",
        "boolean-id",
        "no-data",
        "data-not-an-object",
        "value-not-a-single-value",
    ],
)
def test_malformed_entries_give_invalid_lines_naming_id_or_data(
    mapp1_v1, candidates_file, entry, expected_id, errors
):
    lines = dry_run(candidates_file([entry, {"id": "next", "data": ELIGIBLE}]))
    assert lines == [invalid_line(expected_id, errors), eligible_line("next")]


def test_protocol_version_option_evaluates_under_an_older_version(
    mapp1_v2_minimum_age_21, candidates_file
):
    path = candidates_file([{"id": "C-019", "data": {**ELIGIBLE, "age_years": 19}}])
    assert dry_run(path) == [
        {**eligible_line("C-019", version=2), "result": "ineligible", "failed": ["I1"]}
    ]
    assert dry_run(path, "--protocol-version", "1") == [eligible_line("C-019", version=1)]


@pytest.mark.parametrize(
    ("trial_code", "options", "message"),
    [
        ("NO-SUCH", [], "No trial with code 'NO-SUCH' (known trials: EMPTY-1, MAPP1)."),
        (
            "EMPTY-1",
            [],
            "EMPTY-1 has no protocol version: load one with manage.py load_protocol.",
        ),
        (
            "MAPP1",
            ["--protocol-version", "5"],
            "MAPP1 has no protocol version 5 (it has: 1, 2).",
        ),
    ],
    ids=["unknown-trial", "trial-without-protocol", "unknown-version"],
)
def test_trial_or_version_that_does_not_exist_stops_the_run(
    mapp1_v2_minimum_age_21, candidates_file, trial_code, options, message
):
    TrialFactory(code="EMPTY-1")
    path = candidates_file([{"id": "C-001", "data": ELIGIBLE}])
    with pytest.raises(CommandError) as error:
        dry_run(path, *options, trial_code=trial_code)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '[\n  {"id": 1,, "data": {}}\n]',
            "invalid JSON at line 2, column 12: Expecting property name enclosed in double quotes.",
        ),
        ("", "invalid JSON at line 1, column 1: Expecting value."),
        ("[" * 100_000, "invalid JSON: nested too deeply."),
        ("[" + "9" * 5000 + "]", "invalid JSON: Exceeds the limit (4300 digits)"),
        (b"\xff[]", "not UTF-8 text (byte 0)."),
        ({"id": "C-001", "data": {}}, 'expected a JSON list of {"id": ..., "data": {...}} objects'),
        ('"candidates"', "got a string."),
    ],
    ids=[
        "bad-json",
        "empty-file",
        "nested-too-deep",
        "huge-integer",
        "not-utf8",
        "object",
        "string",
    ],
)
def test_unusable_file_stops_the_run_with_a_clear_message(
    mapp1_v1, candidates_file, content, message
):
    path = candidates_file(content)
    with pytest.raises(CommandError) as error:
        dry_run(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.json", "No such file or directory"), (".", "Is a directory")],
)
def test_unreadable_file_stops_the_run(mapp1_v1, tmp_path, name, message):
    with pytest.raises(CommandError, match=f"cannot read the file: {message}"):
        dry_run(tmp_path / name)


def test_exits_with_status_1_and_the_message_on_stderr(transactional_db, tmp_path, capsys):
    # run_from_argv closes the database connections: hence a transactional test.
    utility = ManagementUtility(
        ["manage.py", "check_eligibility", "NO-SUCH", str(tmp_path / "candidates.json")]
    )
    with pytest.raises(SystemExit) as exit_:
        utility.execute()
    assert exit_.value.code == 1
    assert "CommandError: No trial with code 'NO-SUCH'" in capsys.readouterr().err


def test_each_line_is_written_before_the_next_candidate_is_evaluated(
    mapp1_v1, candidates_file, monkeypatch
):
    out = io.StringIO()
    lines_written_at_each_call = []

    def recording(version, data):
        lines_written_at_each_call.append(out.getvalue().count("\n"))
        return check_eligibility(version, data)

    check_eligibility = command.check_eligibility
    monkeypatch.setattr(command, "check_eligibility", recording)
    path = candidates_file([{"id": n, "data": ELIGIBLE} for n in range(3)])
    call_command("check_eligibility", "MAPP1", str(path), stdout=out)
    assert lines_written_at_each_call == [0, 1, 2]


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def test_dry_run_saves_nothing_and_reads_the_same_rows_for_any_number_of_candidates(
    mapp1_v1, candidates_file, django_assert_max_num_queries
):
    path = candidates_file([{"id": n, "data": {**ELIGIBLE, "age_years": n}} for n in range(200)])
    before = row_counts()
    assert before["trials.ProtocolVersion"] == 1
    with django_assert_max_num_queries(2):  # the trial, its current version
        lines = dry_run(path)
    assert len(lines) == 200
    assert row_counts() == before
    assert ProtocolVersion.objects.get() == mapp1_v1


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
ENTRIES = st.lists(
    JSON_VALUES
    | st.fixed_dictionaries(
        {"id": JSON_VALUES, "data": st.dictionaries(st.sampled_from(sorted(ELIGIBLE)), JSON_VALUES)}
    ),
    max_size=5,
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(entries=ENTRIES)
def test_any_json_list_gives_one_line_per_entry_and_never_a_crash(
    mapp1_v1, candidates_file, entries
):
    lines = dry_run(candidates_file(entries))
    assert len(lines) == len(entries)
    assert all(
        line["result"] in ("eligible", "ineligible", "incomplete", "invalid") for line in lines
    )
