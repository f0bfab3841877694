"""Screening pages through HTTP: scoping, the form, the live verdict, signing, the log."""

import pytest
from django.urls import reverse

from screening.models import Screening
from screening.services import screening_record
from tests.factories import PASSWORD, participant_at
from tests.screening.conftest import ELIGIBLE_DATA
from trials.participants.models import Signature

OUTSIDERS = ["coordinator_site_b", "investigator_site_b", "sponsor_user", "coordinator_other_trial"]
SCREENING_URLS = [
    ("get", "screening_detail"),
    ("post", "screening_detail"),
    ("post", "screening_preview"),
    ("post", "screening_confirm"),
    ("post", "screening_apply_version"),
]


def _form(data, reason=""):
    """The screening form as a browser posts it (booleans as yes/no)."""
    posted = {
        f"data-{name}": ("yes" if value else "no") if isinstance(value, bool) else value
        for name, value in data.items()
    }
    return {**posted, "reason": reason}


@pytest.mark.parametrize(("method", "url_name"), SCREENING_URLS)
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_screening_of_another_site_is_not_found(
    request, client_of, screening_site_a, outsider, method, url_name
):
    client = client_of(request.getfixturevalue(outsider))
    response = getattr(client, method)(reverse(url_name, args=[screening_site_a.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_screening_log_and_start_of_another_site_are_not_found(
    request, client_of, screening_site_a, participant_site_a, outsider
):
    client = client_of(request.getfixturevalue(outsider))
    assert client.get(reverse("screening_log", args=["COMP360-TRD-P3", "LON"])).status_code == 404
    start = reverse("screening_start", args=[participant_site_a.study_id])
    assert client.post(start).status_code == 404
    apply = reverse("screenings_apply_current_version", args=["COMP360-TRD-P3", "LON"])
    assert client.post(apply, {"reason": "x" * 10}).status_code == 404


def test_coordinator_starts_screening_from_the_participant_page(
    client_of, coordinator_site_a, participant_site_a, protocol_v1
):
    client = client_of(coordinator_site_a)
    page = client.get(reverse("participant_detail", args=[participant_site_a.study_id]))
    assert "Start screening" in page.text
    response = client.post(reverse("screening_start", args=[participant_site_a.study_id]))
    screening = Screening.objects.get(participant=participant_site_a)
    assert response["Location"] == reverse("screening_detail", args=[screening.pk])


def test_form_shows_protocol_fields_with_units_and_ranges(
    client_of, coordinator_site_a, screening_site_a
):
    page = client_of(coordinator_site_a).get(
        reverse("screening_detail", args=[screening_site_a.pk])
    )
    assert "Age at screening (years)" in page.text
    assert 'name="data-age_years"' in page.text and 'max="120"' in page.text
    assert "Length of current episode (months)" in page.text


def test_saving_the_form_records_the_data_and_verdict(
    client_of, coordinator_site_a, screening_site_a
):
    client = client_of(coordinator_site_a)
    url = reverse("screening_detail", args=[screening_site_a.pk])
    response = client.post(url, _form(ELIGIBLE_DATA))
    assert response.status_code == 302
    screening = Screening.objects.get(pk=screening_site_a.pk)
    assert screening.data == ELIGIBLE_DATA
    assert "Eligible" in client.get(url).text


def test_out_of_range_value_shows_a_field_error_and_keeps_what_was_typed(
    client_of, coordinator_site_a, screening_site_a
):
    url = reverse("screening_detail", args=[screening_site_a.pk])
    response = client_of(coordinator_site_a).post(
        url, _form({"age_years": 150, "madrs_total_screening": 31})
    )
    assert response.status_code == 200
    assert response.context["form"].errors["age_years"] == [
        "Ensure this value is less than or equal to 120."
    ]
    assert 'value="31"' in response.text
    assert Screening.objects.get(pk=screening_site_a.pk).data == {}


def test_changing_a_saved_value_without_reason_is_a_form_error(
    client_of, coordinator_site_a, screening_site_a
):
    screening_record(screening=screening_site_a, values={"age_years": 34}, by=coordinator_site_a)
    url = reverse("screening_detail", args=[screening_site_a.pk])
    response = client_of(coordinator_site_a).post(url, _form({"age_years": 43}))
    assert response.context["reason_form"].errors["reason"] == ["Give the reason for this change."]
    assert Screening.objects.get(pk=screening_site_a.pk).data == {"age_years": 34}


def test_preview_shows_the_verdict_as_typed_without_saving(
    client_of, coordinator_site_a, screening_site_a
):
    url = reverse("screening_preview", args=[screening_site_a.pk])
    response = client_of(coordinator_site_a).post(url, _form({**ELIGIBLE_DATA, "age_years": 16}))
    assert 'data-result="ineligible"' in response.text
    assert "Aged 18 or over at screening" in response.text
    assert Screening.objects.get(pk=screening_site_a.pk).data == {}


def test_facilitators_see_but_cannot_record(client_of, facilitator_site_a, screening_site_a):
    client = client_of(facilitator_site_a)
    url = reverse("screening_detail", args=[screening_site_a.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, _form({"age_years": 30})).status_code == 403


def test_investigator_signs_on_the_page_and_the_manifestation_is_shown(
    client_of, coordinator_site_a, investigator_site_a, screening_site_a, participant_site_a
):
    screening_record(screening=screening_site_a, values=ELIGIBLE_DATA, by=coordinator_site_a)
    client = client_of(investigator_site_a)
    confirm = reverse("screening_confirm", args=[screening_site_a.pk])
    wrong = client.post(confirm, {"password": "guess"})
    assert wrong.status_code == 400
    assert "The password is not correct" in wrong.text
    assert client.post(confirm, {"password": PASSWORD}).status_code == 302
    name = investigator_site_a.get_full_name()
    for url in (
        reverse("screening_detail", args=[screening_site_a.pk]),
        reverse("participant_detail", args=[participant_site_a.study_id]),
    ):
        page = client.get(url)
        assert "Eligibility confirmed" in page.text and f"signed by {name}" in page.text
    assert Signature.objects.get().signer == investigator_site_a


def test_screening_log_filters_and_counts_failures_by_criterion(
    client_of, coordinator_site_a, trial_site_a, protocol_v1
):
    from screening.services import screening_start

    outcomes = [{"age_years": 17}, {"age_years": 17, "madrs_total_screening": 12}, {}]
    for data in outcomes:
        participant = participant_at(trial_site_a, coordinator_site_a)
        screening = screening_start(participant=participant, by=coordinator_site_a)
        screening_record(
            screening=screening, values={**ELIGIBLE_DATA, **data}, by=coordinator_site_a
        )
    client = client_of(coordinator_site_a)
    url = reverse("screening_log", args=["COMP360-TRD-P3", "LON"])
    page = client.get(url)
    assert page.context["failures"][0][0::2] == ("I1", 2)
    assert page.context["failures"][1][0::2] == ("I5", 1)
    assert page.context["page"].paginator.count == 3
    assert client.get(url, {"criterion": "I5"}).context["page"].paginator.count == 1
    assert client.get(url, {"result": "eligible"}).context["page"].paginator.count == 1


def test_screening_pages_queries_do_not_grow_with_screenings_or_evaluations(
    client_of, coordinator_site_a, trial_site_a, protocol_v1, django_assert_max_num_queries
):
    from screening.services import screening_start

    client = client_of(coordinator_site_a)
    log = reverse("screening_log", args=["COMP360-TRD-P3", "LON"])
    first = screening_start(
        participant=participant_at(trial_site_a, coordinator_site_a), by=coordinator_site_a
    )
    detail = reverse("screening_detail", args=[first.pk])
    with django_assert_max_num_queries(20) as log_queries:
        client.get(log)
    with django_assert_max_num_queries(20) as detail_queries:
        client.get(detail)
    for age in range(20, 40):
        screening = screening_start(
            participant=participant_at(trial_site_a, coordinator_site_a), by=coordinator_site_a
        )
        screening_record(
            screening=screening, values={**ELIGIBLE_DATA, "age_years": age}, by=coordinator_site_a
        )
        screening_record(
            screening=first, values={"age_years": age}, by=coordinator_site_a, reason="Correction"
        )
    with django_assert_max_num_queries(len(log_queries.captured_queries)):
        assert client.get(log).status_code == 200
    with django_assert_max_num_queries(len(detail_queries.captured_queries)):
        assert client.get(detail).status_code == 200
