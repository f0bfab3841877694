"""The CSV written by PostgreSQL's COPY is byte for byte the CSV of the Python path."""

import pytest
from django.apps import apps

from trials.sponsor_api import exports
from trials.sponsor_api.pseudonyms import pseudonym
from trials.study.models import Sponsor

COPY_RESOURCES = [name for name, r in exports.RESOURCES.items() if r.transform is None]


def python_csv(sponsor, trial, resource: str, params=None) -> bytes:
    definition = exports.RESOURCES[resource]
    rows = exports.export_rows(sponsor=sponsor, trial=trial, resource=resource, params=params or {})
    return b"".join(exports.ExportStream(lambda s: exports._python_csv(s, definition, rows)))


def copy_csv(sponsor, trial, resource: str, params=None) -> tuple[bytes, int]:
    stream = exports.export_stream(
        sponsor=sponsor, trial=trial, resource=resource, fmt="csv", params=params or {}
    )
    return b"".join(stream), stream.rows


@pytest.mark.parametrize("profile", ["safe_harbor", "limited"])
@pytest.mark.parametrize("resource", COPY_RESOURCES)
def test_copy_csv_equals_python_csv(sponsor, export_data, resource, profile):
    Sponsor.objects.filter(pk=sponsor.pk).update(export_profile=profile)
    sponsor.refresh_from_db()
    apps.get_model("screening", "Screening").objects.update(failed=["I1", "I7"])
    trial = export_data.trial
    copied, rows = copy_csv(sponsor, trial, resource)
    assert copied == python_csv(sponsor, trial, resource)
    assert rows == copied.decode().count("\n") - 1 > 0


def test_copy_csv_applies_the_filters(sponsor, export_data):
    trial = export_data.trial
    for params in ({"site": "LON"}, {"date_from": "2027-01-01"}, {"updated_since": "2100-01-01"}):
        assert copy_csv(sponsor, trial, "vitals", params)[0] == python_csv(
            sponsor, trial, "vitals", params
        )
    assert copy_csv(sponsor, trial, "vitals", {"date_from": "2027-01-01"})[1] == 0


def test_pseudonyms_in_the_copy_path_are_those_of_trials_pseudonyms(sponsor, export_data):
    copied, _ = copy_csv(sponsor, export_data.trial, "vitals")
    names = {line.split(",")[0] for line in copied.decode().splitlines()[1:]}
    assert names == {pseudonym(sponsor.pseudonym_secret, export_data.pk)}


def test_export_functions_refuse_another_sponsors_trial(sponsor, export_data):
    from tests.factories import SponsorFactory

    other = SponsorFactory.create(name="Usona Institute")
    with pytest.raises(ValueError):
        list(
            exports.export_rows(
                sponsor=other, trial=export_data.trial, resource="vitals", params={}
            )
        )
    with pytest.raises(ValueError):
        b"".join(
            exports.export_stream(
                sponsor=other, trial=export_data.trial, resource="vitals", fmt="csv", params={}
            )
        )
