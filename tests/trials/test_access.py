"""Every object URL answers 404 outside the user's trial and site, whatever the role."""

import pytest
from django.urls import reverse

PARTICIPANT_URLS = [
    "participant_detail",
    "participant_contact_edit",
    "participant_audit",
    "participant_audit_csv",
]
TRIAL_SITE_URLS = ["participant_list", "participant_create"]
OUTSIDERS = [
    "coordinator_site_b",
    "facilitator_site_b",
    "investigator_site_b",
    "sponsor_user",
    "coordinator_other_trial",
]


@pytest.mark.parametrize("url_name", PARTICIPANT_URLS)
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_participant_of_another_site_is_not_found(
    request, client_of, url_name, outsider, participant_site_a
):
    client = client_of(request.getfixturevalue(outsider))
    url = reverse(url_name, args=[participant_site_a.study_id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "looking"}).status_code == 404


@pytest.mark.parametrize("url_name", TRIAL_SITE_URLS)
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_trial_site_pages_of_another_site_are_not_found(
    request, client_of, url_name, outsider, trial_site_a
):
    client = client_of(request.getfixturevalue(outsider))
    url = reverse(url_name, args=[trial_site_a.trial.code, trial_site_a.site.code])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url_name", PARTICIPANT_URLS + ["participant_list"])
def test_anonymous_visitors_are_sent_to_log_in(client, url_name, participant_site_a):
    args = (
        [participant_site_a.trial.code, participant_site_a.site.code]
        if url_name == "participant_list"
        else [participant_site_a.study_id]
    )
    response = client.get(reverse(url_name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url_name", PARTICIPANT_URLS)
def test_site_coordinator_reaches_every_participant_page(
    client_of, url_name, participant_site_a, coordinator_site_a
):
    response = client_of(coordinator_site_a).get(
        reverse(url_name, args=[participant_site_a.study_id])
    )
    assert response.status_code == 200


def test_unknown_study_id_is_not_found(client_of, coordinator_site_a):
    url = reverse("participant_detail", args=["COMP360-TRD-P3-LON-9999"])
    assert client_of(coordinator_site_a).get(url).status_code == 404


def test_monitor_sees_participants_of_every_site_but_never_their_identity(
    client_of, monitor, participant_site_a, participant_site_b
):
    client = client_of(monitor)
    for participant in (participant_site_a, participant_site_b):
        page = client.get(reverse("participant_detail", args=[participant.study_id]))
        assert page.status_code == 200
        assert participant.study_id in page.text
        assert participant.contact.family_name not in page.text
        contact = client.get(reverse("participant_contact_edit", args=[participant.study_id]))
        assert contact.status_code == 403


def test_identity_shown_to_site_care_team(client_of, facilitator_site_a, participant_site_a):
    page = client_of(facilitator_site_a).get(
        reverse("participant_detail", args=[participant_site_a.study_id])
    )
    assert "Vandermolen-Quist" in page.text


def test_facilitator_may_not_correct_contact_details(
    client_of, facilitator_site_a, participant_site_a
):
    url = reverse("participant_contact_edit", args=[participant_site_a.study_id])
    response = client_of(facilitator_site_a).post(url, {"given_name": "X", "reason": "typo"})
    assert response.status_code == 403
    participant_site_a.contact.refresh_from_db()
    assert participant_site_a.contact.given_name == "Alex"


def test_participant_list_shows_only_the_site(
    client_of, coordinator_site_a, participant_site_a, participant_site_b
):
    page = client_of(coordinator_site_a).get(
        reverse("participant_list", args=["COMP360-TRD-P3", "LON"])
    )
    assert participant_site_a.study_id in page.text
    assert participant_site_b.study_id not in page.text


def test_participant_list_queries_do_not_grow_with_rows(
    client_of, coordinator_site_a, trial_site_a, django_assert_max_num_queries
):
    from tests.factories import participant_at

    client = client_of(coordinator_site_a)
    url = reverse("participant_list", args=["COMP360-TRD-P3", "LON"])
    participant_at(trial_site_a, coordinator_site_a)
    with django_assert_max_num_queries(10) as few:
        client.get(url)
    for _ in range(30):
        participant_at(trial_site_a, coordinator_site_a)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    assert page.text.count('href="/participants/COMP360-TRD-P3-LON-') == 31
