"""Factories for every model, in one place."""

import datetime
import functools
import json
from pathlib import Path

import factory
import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from trials.facilitators.models import Credential, Facilitator
from trials.participants import services
from trials.participants.models import Participant
from trials.study import services as study_services
from trials.study.models import Membership, ProtocolVersion, Role, Site, Sponsor, Trial, TrialSite

PASSWORD = "correct horse battery staple"
PROTOCOLS = Path(__file__).resolve().parents[1] / "trials" / "protocols"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()  # type: ignore[attr-defined]  # post_generation passes the user as self


class SponsorFactory(factory.django.DjangoModelFactory[Sponsor]):
    class Meta:
        model = Sponsor
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Sponsor {n}")
    safety_contact_email = "safety@example.org"


class TrialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trial
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"TRIAL-{n}")
    title = factory.LazyAttribute(lambda trial: f"Trial {trial.code}")
    sponsor = factory.SubFactory(SponsorFactory)
    indication = "treatment-resistant depression"
    compound = "psilocybin"
    phase = "2"
    target_enrollment = 100


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"S{n}")
    name = factory.LazyAttribute(lambda site: f"Site {site.code}")
    time_zone = "Europe/London"


class TrialSiteFactory(factory.django.DjangoModelFactory[TrialSite]):
    class Meta:
        model = TrialSite
        django_get_or_create = ["trial", "site"]

    trial = factory.SubFactory(TrialFactory)
    site = factory.SubFactory(SiteFactory)
    is_active = True
    activated_on = datetime.date(2026, 1, 5)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    trial = factory.SubFactory(TrialFactory)
    site = factory.SubFactory(SiteFactory)
    role = Role.COORDINATOR


class FacilitatorFactory(factory.django.DjangoModelFactory[Facilitator]):
    class Meta:
        model = Facilitator

    user = factory.SubFactory(UserFactory)


class LicenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Credential

    facilitator = factory.SubFactory(FacilitatorFactory)
    kind = Credential.Kind.LICENCE
    licence_type = "Clinical psychologist"
    licence_number = factory.Sequence(lambda n: f"PSY{n:05d}")
    jurisdiction = "England"
    expires_on = datetime.date(2028, 12, 31)


class TrainingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Credential

    facilitator = factory.SubFactory(FacilitatorFactory)
    kind = Credential.Kind.TRAINING
    programme = "Psychedelic-assisted therapy facilitation"
    hours = 120
    completed_on = datetime.date(2025, 6, 30)


def contact_details(**overrides: object) -> dict[str, object]:
    """Identifying details of a candidate, as a coordinator types them."""
    return {
        "given_name": "Alex",
        "family_name": "Vandermolen-Quist",
        "date_of_birth": datetime.date(1984, 3, 14),
        "phone": "+44 20 7946 0000",
        "email": "alex.morgan@example.org",
        "address": "1 Example Street, London",
        "may_contact": True,
        **overrides,
    }


def participant_at(trial_site: TrialSite, by: User, **contact: object) -> Participant:
    """A candidate registered through the real service, as a coordinator would."""
    return services.participant_create(
        trial_site=trial_site, contact=contact_details(**contact), by=by
    )


# Screening data that meet every COMP360-TRD-P3 criterion (trials/protocols/comp360-trd-p3.yaml).
COMP360_ELIGIBLE_DATA = {
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


@functools.cache
def _protocol_json(filename: str) -> str:
    """An example protocol file (trials/protocols/), parsed once per test session, as JSON."""
    return json.dumps(yaml.safe_load((PROTOCOLS / filename).read_text()))


def protocol_document(filename: str) -> dict:
    """An example protocol file, parsed: a fresh copy, free to be changed by a test."""
    return json.loads(_protocol_json(filename))


def protocol_version(filename: str) -> ProtocolVersion:
    """An example protocol file loaded through the real service as its trial's next version.

    Sent as JSON: the YAML is parsed once per session; the service still validates the
    document and stores it (the same content hash as the YAML file's).
    """
    return study_services.protocol_load(
        content=_protocol_json(filename), filename=filename, by=None
    )[0]
