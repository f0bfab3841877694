"""The cast: one trial at two sites, people in every role, and a participant at each site."""

import datetime

import pytest

from screening.services import screening_confirm, screening_record, screening_start
from tests.factories import (
    COMP360_ELIGIBLE_DATA,
    PASSWORD,
    MembershipFactory,
    SiteFactory,
    SponsorFactory,
    TrialFactory,
    TrialSiteFactory,
    UserFactory,
    participant_at,
    protocol_version,
)
from trials.enrollment.models import ConsentFormVersion
from trials.study.models import Role


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """Unit tests run a task in-process when it is queued (after commit); the tests that need
    a real worker and Redis (tests/workers.py) switch this off."""
    from registry.celery import app

    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = False, False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Argon2 is deliberately slow; tests hash with MD5 unless they check the hasher itself."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
    return participant_at(
        trial_site_b, coordinator_site_b, given_name="Sam", family_name="Oyelaran-Brandt"
    )


@pytest.fixture
def client_of(client):
    """A test client logged in as the given user."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def comp360_protocol(trial):
    """The COMP360 protocol file loaded as the cast's trial's version 1."""
    return protocol_version("comp360-trd-p3.yaml")


@pytest.fixture
def consent_form(trial):
    return ConsentFormVersion.objects.create(
        trial=trial,
        label="ICF v1",
        approved_on=datetime.date(2025, 12, 1),
        effective_from=datetime.date(2026, 1, 5),
    )


def make_eligible(participant, coordinator, investigator):
    """Screen a participant eligible and have the investigator sign: ready for consent."""
    screening = screening_start(participant=participant, by=coordinator)
    screening_record(screening=screening, values=COMP360_ELIGIBLE_DATA, by=coordinator)
    screening_confirm(screening=screening, investigator=investigator, password=PASSWORD)
    participant.refresh_from_db()
    return participant


@pytest.fixture
def eligible_site_a(comp360_protocol, participant_site_a, coordinator_site_a, investigator_site_a):
    return make_eligible(participant_site_a, coordinator_site_a, investigator_site_a)


def qualified_facilitator(trial, site, username):
    """A facilitator at the site with a valid licence and 120 training hours."""
    from tests.factories import FacilitatorFactory, LicenceFactory, TrainingFactory

    user = _member(username, trial, site, Role.FACILITATOR)
    facilitator = FacilitatorFactory(user=user)
    LicenceFactory(facilitator=facilitator)
    TrainingFactory(facilitator=facilitator, hours=120)
    return facilitator


@pytest.fixture
def dosing_team_site_a(trial_site_a):
    """Two credentialed facilitators at site A: the protocol's pair."""
    return [
        qualified_facilitator(trial_site_a.trial, trial_site_a.site, "facilitator_a1"),
        qualified_facilitator(trial_site_a.trial, trial_site_a.site, "facilitator_a2"),
    ]


def randomize_on_a_short_list(participant, by):
    """participant_randomize, the stratum's allocation list generated a block at a time.

    The service lists as many slots as the trial's target enrollment whenever the list runs
    out (568 slots, each audited, for COMP360); here the list grows by its next block only,
    from the same seed: the same slots, in the same order, fewer of them listed ahead.
    """
    from trials.enrollment import services as enrollment
    from trials.enrollment.models import AllocationSlot
    from trials.enrollment.randomization import permuted_blocks

    def next_block(seed, ratio, block_sizes, minimum):
        listed = AllocationSlot.objects.filter(allocation_list__seed=seed).count()
        return permuted_blocks(seed, ratio, block_sizes, listed + 1)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(enrollment, "permuted_blocks", next_block)
        return enrollment.participant_randomize(participant=participant, by=by)


@pytest.fixture
def randomized_site_a(eligible_site_a, consent_form, coordinator_site_a):
    """Eligible, signed, consented to ICF v1 and randomized: visits are scheduled."""
    from django.utils import timezone

    from trials.enrollment.services import consent_record

    consent_record(
        participant=eligible_site_a,
        form_version=consent_form,
        consented_at=timezone.now() - datetime.timedelta(hours=1),
        obtained_by=coordinator_site_a,
        participant_confirmed=True,
        by=coordinator_site_a,
    )
    randomize_on_a_short_list(eligible_site_a, coordinator_site_a)
    eligible_site_a.refresh_from_db()
    return eligible_site_a


@pytest.fixture
def booked_dosing_site_a(randomized_site_a, dosing_team_site_a, coordinator_site_a):
    """DOSE1 booked on its target day with the two facilitators."""
    from zoneinfo import ZoneInfo

    from trials.sessions.models import Visit
    from trials.sessions.services import visit_book

    visit = Visit.objects.get(participant=randomized_site_a, event_code="DOSE1")
    starts = datetime.datetime.combine(
        visit.target_date, datetime.time(9, 0), tzinfo=ZoneInfo("Europe/London")
    )
    return visit_book(
        visit=visit,
        starts_at=starts,
        room="Dosing suite",
        by=coordinator_site_a,
        facilitators=dosing_team_site_a,
    )
