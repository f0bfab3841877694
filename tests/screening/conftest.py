"""Screening fixtures: the COMP360 protocol loaded for the cast's trial, and candidates' data."""

from pathlib import Path

import pytest

from screening.services import screening_start
from trials.services import protocol_load

PROTOCOLS = Path(__file__).resolve().parents[2] / "trials" / "protocols"
COMP360 = (PROTOCOLS / "comp360-trd-p3.yaml").read_text()

ELIGIBLE_DATA = {
    "age_years": 34,
    "mdd_current_episode": True,
    "mdd_with_psychotic_features": False,
    "first_lifetime_episode": False,
    "current_episode_duration_months": 14,
    "madrs_total_screening": 31,
    "madrs_total_baseline": 29,
    "failed_adequate_treatments_current_episode": 3,
    "lifetime_excluded_personality_disorder": False,
    "ongoing_serious_psychiatric_comorbidity": False,
}


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
    version, _ = protocol_load(content=COMP360, filename="comp360-trd-p3.yaml", by=None)
    return version


@pytest.fixture
def screening_site_a(protocol_v1, participant_site_a, coordinator_site_a):
    return screening_start(participant=participant_site_a, by=coordinator_site_a)


@pytest.fixture
def screening_site_b(protocol_v1, participant_site_b, coordinator_site_b):
    return screening_start(participant=participant_site_b, by=coordinator_site_b)
