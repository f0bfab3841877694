import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory


def test_passwords_are_hashed_with_argon2(db, settings):
    from registry import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = UserFactory.create(username="hashed")
    assert user.password.startswith("argon2")


def test_login_with_password_reaches_home(client, db):
    UserFactory(username="ana")
    response = client.post(reverse("login"), {"username": "ana", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_wrong_password_is_refused_with_a_message(client, db):
    UserFactory(username="ana")
    response = client.post(reverse("login"), {"username": "ana", "password": "guess"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text


@pytest.mark.parametrize("attempts", [5])
def test_repeated_failures_lock_the_account(client, db, attempts, settings):
    UserFactory(username="ana")
    for _ in range(attempts):
        client.post(reverse("login"), {"username": "ana", "password": "guess"})
    response = client.post(reverse("login"), {"username": "ana", "password": PASSWORD})
    assert response.status_code == 429
    assert "Account locked" in response.text
    assert "_auth_user_id" not in client.session
    assert get_user_model().objects.get(username="ana").last_login is None


def test_home_lists_the_users_trials(client_of, coordinator_site_a):
    page = client_of(coordinator_site_a).get(reverse("home"))
    assert "COMP360-TRD-P3" in page.text
    assert reverse("participant_list", args=["COMP360-TRD-P3", "LON"]) in page.text
