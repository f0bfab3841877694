"""Screening fixtures: the COMP360 protocol loaded for the cast's trial, and candidates' data."""

from pathlib import Path

import pytest

from screening.services import screening_start
from tests.factories import COMP360_ELIGIBLE_DATA, protocol_version
from trials.study.services import protocol_load

PROTOCOLS = Path(__file__).resolve().parents[2] / "trials" / "protocols"
COMP360 = (PROTOCOLS / "comp360-trd-p3.yaml").read_text()

ELIGIBLE_DATA = COMP360_ELIGIBLE_DATA


def load_amendment(old: str, new: str):
    """Load the next protocol version: the COMP360 file with one passage changed."""
    assert old in COMP360
    version, created = protocol_load(
        content=COMP360.replace(old, new), filename="amendment.yaml", by=None
    )
    assert created
    return version


@pytest.fixture
def protocol_v1(trial):
    return protocol_version("comp360-trd-p3.yaml")


@pytest.fixture
def screening_site_a(protocol_v1, participant_site_a, coordinator_site_a):
    return screening_start(participant=participant_site_a, by=coordinator_site_a)


@pytest.fixture
def screening_site_b(protocol_v1, participant_site_b, coordinator_site_b):
    return screening_start(participant=participant_site_b, by=coordinator_site_b)
