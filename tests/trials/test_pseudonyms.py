"""De-identification rules shared by every sponsor export."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trials.sponsor_api.pseudonyms import age_category, age_in_years, pseudonym, reduce_date


def test_a_pseudonym_is_stable_for_a_sponsor_and_differs_between_sponsors():
    assert pseudonym("secret-a", 42) == pseudonym("secret-a", 42)
    assert pseudonym("secret-a", 42) != pseudonym("secret-b", 42)
    assert pseudonym("secret-a", 42) != pseudonym("secret-a", 43)
    assert pseudonym("secret-a", 42).startswith("P-")


@given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=1, max_value=10**12))
def test_pseudonyms_of_two_participants_do_not_collide(first, second):
    if first != second:
        assert pseudonym("s", first) != pseudonym("s", second)


@pytest.mark.parametrize(
    ("born", "on", "expected"),
    [
        ("1990-06-15", "2026-06-14", "35"),
        ("1990-06-15", "2026-06-15", "36"),
        ("1936-06-15", "2026-06-14", "89"),
        ("1936-06-15", "2026-06-15", "90+"),
        ("1920-01-01", "2026-06-15", "90+"),
    ],
)
def test_age_at_consent_is_in_whole_years_with_90_and_over_as_one_category(born, on, expected):
    assert age_category(datetime.date.fromisoformat(born), datetime.date.fromisoformat(on)) == (
        expected
    )


def test_a_leap_day_birthday_counts_on_the_first_of_march_in_other_years():
    assert age_in_years(datetime.date(2000, 2, 29), datetime.date(2021, 2, 28)) == 20
    assert age_in_years(datetime.date(2000, 2, 29), datetime.date(2021, 3, 1)) == 21


def test_no_birth_date_or_no_consent_means_no_age():
    assert age_category(None, datetime.date(2026, 1, 1)) is None
    assert age_category(datetime.date(1990, 1, 1), None) is None


def test_safe_harbor_keeps_only_the_year_and_limited_keeps_the_date_in_utc():
    moment = datetime.datetime(
        2026, 3, 1, 0, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert reduce_date(datetime.date(2026, 3, 4), "safe_harbor") == "2026"
    assert reduce_date(moment, "safe_harbor") == "2026"
    assert reduce_date(datetime.date(2026, 3, 4), "limited") == "2026-03-04"
    assert reduce_date(moment, "limited") == "2026-02-28T22:30:00Z"
    assert reduce_date(None, "limited") is None
    with pytest.raises(ValueError, match="Unknown export profile"):
        reduce_date(datetime.date(2026, 1, 1), "everything")
