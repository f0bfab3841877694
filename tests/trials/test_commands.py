"""The load_protocol command, run as an operator would (seed_demo: tests/registry)."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from trials.study.models import Arm, ProtocolVersion, Trial

PROTOCOLS = Path(__file__).resolve().parents[2] / "trials" / "protocols"


def _load(path: Path, capsys) -> str:
    call_command("load_protocol", str(path))
    return capsys.readouterr().out.strip()


def test_load_protocol_creates_the_trial_and_prints_a_summary(db, capsys):
    out = _load(PROTOCOLS / "mapp1.yaml", capsys)
    assert out.startswith("MAPP1 version 1 loaded: 2 arms, 16 screening fields, 16 criteria")
    trial = Trial.objects.get(code="MAPP1")
    assert trial.sponsor.name == "MAPS Public Benefit Corporation"
    assert trial.target_enrollment == 100
    assert list(Arm.objects.filter(trial=trial).values_list("code", "dose_mg")) == [
        ("MDMA", [120, 60]),
        ("PBO", [0, 0]),
    ]
    version = ProtocolVersion.objects.get(trial=trial)
    assert version.source == (PROTOCOLS / "mapp1.yaml").read_text()
    assert version.content["randomization"]["block_sizes"] == [2, 4]


def test_identical_content_changes_nothing(db, capsys, tmp_path):
    _load(PROTOCOLS / "mapp1.yaml", capsys)
    reordered = tmp_path / "mapp1-copy.yaml"
    reordered.write_text("# a comment changes nothing\n" + (PROTOCOLS / "mapp1.yaml").read_text())
    assert _load(reordered, capsys) == "MAPP1: identical to version 1, nothing changed"
    assert ProtocolVersion.objects.count() == 1


def test_changed_content_creates_the_next_version(db, capsys, tmp_path):
    _load(PROTOCOLS / "mapp1.yaml", capsys)
    amended = tmp_path / "mapp1-amendment.yaml"
    amended.write_text(
        (PROTOCOLS / "mapp1.yaml")
        .read_text()
        .replace("target_enrollment: 100", "target_enrollment: 120")
    )
    assert _load(amended, capsys).startswith("MAPP1 version 2 loaded")
    assert Trial.objects.get(code="MAPP1").target_enrollment == 120
    assert list(ProtocolVersion.objects.values_list("number", flat=True)) == [2, 1]


def test_bad_file_names_each_error_and_saves_nothing(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (PROTOCOLS / "mapp1.yaml").read_text()
    bad.write_text(text.replace("op: ge\n      value: 35", "op: gte\n      value: 35"))
    with pytest.raises(CommandError) as error:
        call_command("load_protocol", str(bad))
    assert "screening.criteria[3].rule.op: unknown operator 'gte'" in str(error.value)
    assert not Trial.objects.exists()
    assert not ProtocolVersion.objects.exists()


def test_missing_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("load_protocol", str(tmp_path / "nope.yaml"))
