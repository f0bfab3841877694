"""The cast: one trial at two sites, people in every role, and a participant at each site."""

import pytest

from tests.factories import (
    MembershipFactory,
    SiteFactory,
    SponsorFactory,
    TrialFactory,
    TrialSiteFactory,
    UserFactory,
    participant_at,
)
from trials.models import Role


@pytest.fixture
def sponsor(db):
    return SponsorFactory(name="Compass Pathways")


@pytest.fixture
def trial(sponsor):
    return TrialFactory(code="COMP360-TRD-P3", sponsor=sponsor)


@pytest.fixture
def other_trial(db):
    return TrialFactory(code="MAPP1")


@pytest.fixture
def site_a(db):
    return SiteFactory(code="LON", name="London", time_zone="Europe/London")


@pytest.fixture
def site_b(db):
    return SiteFactory(code="NYC", name="New York", time_zone="America/New_York")


@pytest.fixture
def trial_site_a(trial, site_a):
    return TrialSiteFactory(trial=trial, site=site_a, enrollment_cap=20)


@pytest.fixture
def trial_site_b(trial, site_b):
    return TrialSiteFactory(trial=trial, site=site_b, enrollment_cap=20)


def _member(username, trial, site, role):
    user = UserFactory(username=username)
    MembershipFactory(user=user, trial=trial, site=site, role=role)
    return user


@pytest.fixture
def coordinator_site_a(trial_site_a):
    return _member("coordinator_a", trial_site_a.trial, trial_site_a.site, Role.COORDINATOR)


@pytest.fixture
def coordinator_site_b(trial_site_b):
    return _member("coordinator_b", trial_site_b.trial, trial_site_b.site, Role.COORDINATOR)


@pytest.fixture
def facilitator_site_a(trial_site_a):
    return _member("facilitator_a", trial_site_a.trial, trial_site_a.site, Role.FACILITATOR)


@pytest.fixture
def facilitator_site_b(trial_site_b):
    return _member("facilitator_b", trial_site_b.trial, trial_site_b.site, Role.FACILITATOR)


@pytest.fixture
def investigator_site_a(trial_site_a):
    return _member("investigator_a", trial_site_a.trial, trial_site_a.site, Role.INVESTIGATOR)


@pytest.fixture
def investigator_site_b(trial_site_b):
    return _member("investigator_b", trial_site_b.trial, trial_site_b.site, Role.INVESTIGATOR)


@pytest.fixture
def monitor(trial, trial_site_a, trial_site_b):
    return _member("monitor", trial, None, Role.MONITOR)


@pytest.fixture
def sponsor_user(trial, trial_site_a, trial_site_b):
    return _member("sponsor_user", trial, None, Role.SPONSOR)


@pytest.fixture
def coordinator_other_trial(other_trial, site_a):
    TrialSiteFactory(trial=other_trial, site=site_a)
    return _member("coordinator_other_trial", other_trial, site_a, Role.COORDINATOR)


@pytest.fixture
def participant_site_a(trial_site_a, coordinator_site_a):
    return participant_at(trial_site_a, coordinator_site_a)


@pytest.fixture
def participant_site_b(trial_site_b, coordinator_site_b):
    return participant_at(trial_site_b, coordinator_site_b, given_name="Sam", family_name="Lee")


@pytest.fixture
def client_of(client):
    """A test client logged in as the given user."""

    def login(user):
        client.force_login(user)
        return client

    return login
