"""Background export jobs: POST /api/v1/trials/<code>/exports, its status, its file."""

import datetime
import json
import logging
import os
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from registry.celery import app
from tests import workers
from tests.api import test_odm
from tests.workers import wait_until
from trials import queue
from trials.sponsor_api import exports
from trials.sponsor_api import services as export_jobs
from trials.sponsor_api import tasks as jobs
from trials.sponsor_api.models import ExportJob, ExportRequest

URL = "/api/v1/trials/COMP360-TRD-P3/exports"
# Fixtures: the ODM tests' clinical data; a real Redis and Celery worker.
clinical_data = test_odm.clinical_data
celery, celery_redis = workers.celery, workers.celery_redis


@pytest.fixture(autouse=True)
def export_root(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"
    return settings.EXPORT_ROOT


@pytest.fixture
def sent(monkeypatch):
    """The task messages sent, instead of reaching the broker."""
    messages = []

    def record(task_name, *args):
        messages.append((task_name, list(args)))
        return True

    monkeypatch.setattr(queue, "publish", record)
    return messages


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(jobs.export_job_run, "apply_async", refuse)


def post_job(client, body):
    return client.post(URL, json.dumps(body), content_type="application/json")


def expected_ndjson(sponsor, trial, resource="vitals") -> bytes:
    stream = exports.export_stream(
        sponsor=sponsor, trial=trial, resource=resource, fmt="ndjson", params={}
    )
    return b"".join(stream)


def test_a_job_is_queued_after_commit(
    sponsor_client, clinical_data, sent, sponsor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"})

    assert response.status_code == 202
    job = ExportJob.objects.get()
    assert response.json()["status"] == "queued"
    assert response["Location"].endswith(f"/exports/{job.pk}")
    assert len(callbacks) == 1
    assert sent == [("trials.sponsor_api.tasks.export_job_run", [str(job.pk)])]
    assert (job.resource, job.format) == ("vitals", "ndjson")
    assert job.params == {"profile": sponsor.export_profile} and job.attempts == 0


def test_the_job_keeps_the_listing_filters(sponsor_client, clinical_data, sent):
    body = {
        "resource": "adverse-events",
        "format": "csv",
        "site": "LON",
        "date_from": "2026-01-01",
        "date_to": "2026-12-31",
        "updated_since": "2026-01-01T00:00:00Z",
    }

    response = post_job(sponsor_client, body)

    assert response.status_code == 202
    params = ExportJob.objects.get().params
    assert params["site"] == "LON"
    assert params["date_from"] == "2026-01-01" and params["date_to"] == "2026-12-31"
    assert params["updated_since"].startswith("2026-01-01T00:00:00")


def test_a_job_is_accepted_with_the_broker_down(
    sponsor_client, clinical_data, broker_down, caplog, django_capture_on_commit_callbacks
):
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = post_job(sponsor_client, {"resource": "vitals", "format": "csv"})

    assert response.status_code == 202
    assert ExportJob.objects.get().status == "queued"
    assert "will be resumed" in caplog.text


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"resource": "vitals", "format": "xlsx"}, {"format"}),
        ({"resource": "contacts", "format": "csv"}, {"resource"}),
        ({"format": "csv"}, {"resource"}),
        ({"resource": "vitals", "format": "csv", "date_from": "yesterday"}, {"date_from"}),
        (
            {
                "resource": "vitals",
                "format": "csv",
                "date_from": "2026-05-02",
                "date_to": "2026-05-01",
            },
            {"date_to"},
        ),
        ({"resource": "vitals", "format": "csv", "site": "NOWHERE"}, {"site"}),
        ({"resource": "vitals", "format": "csv", "updated_since": "soon"}, {"updated_since"}),
        ({"resource": "nope", "format": "pdf", "site": "x y"}, {"resource", "format", "site"}),
        ([1, 2], {"non_field_errors"}),
    ],
)
def test_a_bad_job_request_is_400_by_field(sponsor_client, clinical_data, sent, body, fields):
    response = post_job(sponsor_client, body)

    assert response.status_code == 400
    assert set(response.json()) == fields
    assert not ExportJob.objects.exists() and sent == []


@pytest.mark.parametrize("body", ["{not json", "[" * 100_000, "null", '"vitals"'])
def test_malformed_json_is_400(sponsor_client, clinical_data, body):
    response = sponsor_client.post(URL, body, content_type="application/json")

    assert response.status_code == 400


def test_a_job_writes_its_file_and_the_sponsor_downloads_it(
    sponsor_client, clinical_data, sent, sponsor, trial, export_root
):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"}).json()["id"]

    jobs.export_job_run(job_id)

    status = sponsor_client.get(f"{URL}/{job_id}").json()
    assert status["status"] == "done"
    assert status["rows_written"] == status["rows_total"] == 2
    assert status["file_url"].endswith(f"/exports/{job_id}/file")
    download = sponsor_client.get(f"{URL}/{job_id}/file")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/x-ndjson"
    body = b"".join(download.streaming_content)
    assert body == expected_ndjson(sponsor, trial)
    assert [json.loads(line)["systolic"] for line in body.splitlines()] == [131, 142]
    assert sorted(p.name for p in export_root.iterdir()) == [f"{job_id}.ndjson"]
    logged = ExportRequest.objects.get()
    assert (logged.resource, logged.format, logged.rows) == ("vitals", "ndjson", 2)
    assert logged.query == f"job={job_id}"


def test_the_file_answers_a_client_asking_for_csv(sponsor_client, clinical_data, sent):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]
    jobs.export_job_run(job_id)

    response = sponsor_client.get(f"{URL}/{job_id}/file", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert b"".join(response.streaming_content).startswith(b"participant,")


def test_a_csv_job_holds_no_identity(sponsor_client, clinical_data, sent):
    job_id = post_job(sponsor_client, {"resource": "participants", "format": "csv"}).json()["id"]

    jobs.export_job_run(job_id)

    text = b"".join(sponsor_client.get(f"{URL}/{job_id}/file").streaming_content).decode()
    assert len(text.splitlines()) == 3  # header and the two participants
    leaked = {what: value for what, value in test_odm.PLANTED.items() if value in text}
    assert leaked == {}


@pytest.fixture
def stream_calls(monkeypatch):
    """The exports streamed by job runs (one per run that did the work)."""
    calls = []
    real_stream = exports.export_stream

    def counting(**kwargs):
        calls.append(kwargs["resource"])
        return real_stream(**kwargs)

    monkeypatch.setattr(exports, "export_stream", counting)
    return calls


def make_stale(job_id, attempts):
    """As if the job's worker was lost: running since before the stale limit."""
    long_ago = timezone.now() - export_jobs.STALE_RUNNING_AFTER - datetime.timedelta(minutes=1)
    ExportJob.objects.filter(pk=job_id).update(
        status="running", started_at=long_ago, attempts=attempts
    )


def test_a_job_is_claimed_once(sponsor_client, clinical_data, sent):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]
    now = timezone.now()

    assert export_jobs.export_job_claim(job_id=job_id, now=now) is True
    assert export_jobs.export_job_claim(job_id=job_id, now=now) is False

    job = ExportJob.objects.get(pk=job_id)
    assert (job.status, job.attempts, job.started_at) == ("running", 1, now)


def test_two_runs_at_once_write_the_export_once(
    transactional_db, sponsor_client, clinical_data, sent, sponsor, trial, export_root, stream_calls
):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"}).json()["id"]
    start = threading.Barrier(2)
    errors = []

    def run():
        try:
            start.wait()
            jobs.export_job_run(job_id)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == [] and stream_calls == ["vitals"]
    job = ExportJob.objects.get(pk=job_id)
    assert (job.status, job.attempts, job.rows_written) == ("done", 1, 2)
    assert [p.name for p in export_root.iterdir()] == [f"{job_id}.ndjson"]
    assert (export_root / f"{job_id}.ndjson").read_bytes() == expected_ndjson(sponsor, trial)


def test_a_done_job_is_never_run_again(
    sponsor_client, clinical_data, sent, export_root, stream_calls
):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"}).json()["id"]
    jobs.export_job_run(job_id)
    file = export_root / f"{job_id}.ndjson"
    written = (file.read_bytes(), file.stat().st_mtime_ns)
    before = ExportJob.objects.values().get(pk=job_id)

    assert jobs.export_job_run(job_id) == "done"  # a duplicate or redelivered message

    assert ExportJob.objects.values().get(pk=job_id) == before
    assert (file.read_bytes(), file.stat().st_mtime_ns) == written
    assert stream_calls == ["vitals"]
    assert sponsor_client.get(f"{URL}/{job_id}/file").status_code == 200


def test_a_message_redelivered_while_the_job_runs_does_nothing(
    sponsor_client, clinical_data, sent, export_root, stream_calls
):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"}).json()["id"]
    assert export_jobs.export_job_claim(job_id=job_id, now=timezone.now())

    assert jobs.export_job_run(job_id) == "running"

    assert stream_calls == [] and not export_root.exists()
    assert ExportJob.objects.get(pk=job_id).attempts == 1


def test_a_failed_job_stays_failed(sponsor_client, clinical_data, sent, export_root, monkeypatch):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"}).json()["id"]
    real_stream = exports.export_stream

    def crashing(**kwargs):
        real = real_stream(**kwargs)

        def chunks(stream):
            yield next(real)[:10]
            raise OSError("disk full")

        return exports.ExportStream(chunks)

    monkeypatch.setattr(exports, "export_stream", crashing)
    with pytest.raises(OSError):
        jobs.export_job_run(job_id)
    monkeypatch.setattr(exports, "export_stream", real_stream)

    assert jobs.export_job_run(job_id) == "failed"  # a duplicate message
    job = ExportJob.objects.get(pk=job_id)
    assert (job.status, job.error) == ("failed", "OSError: the export could not be written.")
    assert sponsor_client.get(f"{URL}/{job_id}/file").status_code == 404
    assert list(export_root.iterdir()) == []


def test_a_run_after_a_lost_worker_replaces_its_partial_file(
    sponsor_client, clinical_data, sent, sponsor, trial, export_root
):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"}).json()["id"]
    make_stale(job_id, attempts=1)
    export_root.mkdir()
    partial = export_root / f"{job_id}.ndjson.dead{export_jobs.PART_SUFFIX}"
    partial.write_bytes(b'{"partic')
    long_ago = (timezone.now() - export_jobs.STALE_RUNNING_AFTER * 2).timestamp()
    os.utime(partial, (long_ago, long_ago))

    assert jobs.export_job_run(job_id) == "done"
    export_jobs.export_jobs_resume()

    assert ExportJob.objects.get(pk=job_id).attempts == 2
    assert [p.name for p in export_root.iterdir()] == [f"{job_id}.ndjson"]
    assert (export_root / f"{job_id}.ndjson").read_bytes() == expected_ndjson(sponsor, trial)


def test_a_job_whose_worker_is_lost_three_times_fails(
    sponsor_client, clinical_data, sent, stream_calls
):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"}).json()["id"]
    make_stale(job_id, attempts=export_jobs.MAX_ATTEMPTS)

    assert jobs.export_job_run(job_id) == "failed"

    job = ExportJob.objects.get(pk=job_id)
    assert "after 3 attempts" in job.error and job.finished_at is not None
    assert stream_calls == []


def test_resume_fails_exhausted_jobs_and_sends_the_others_again(
    sponsor_client, clinical_data, sent
):
    exhausted = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]
    lost = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]
    make_stale(exhausted, attempts=export_jobs.MAX_ATTEMPTS)
    make_stale(lost, attempts=1)
    sent.clear()

    assert export_jobs.export_jobs_resume() == 1

    assert sent == [("trials.sponsor_api.tasks.export_job_run", [lost])]
    job = ExportJob.objects.get(pk=exhausted)
    assert job.status == "failed" and "after 3 attempts" in job.error
    assert ExportJob.objects.get(pk=lost).status == "running"


def test_removing_stale_parts_tolerates_a_file_vanishing(export_root, monkeypatch):
    export_root.mkdir()
    gone, stale, fresh = (
        export_root / f"{name}{export_jobs.PART_SUFFIX}" for name in ("gone", "stale", "fresh")
    )
    for part in (gone, stale, fresh):
        part.write_bytes(b"x")
    long_ago = (timezone.now() - export_jobs.STALE_RUNNING_AFTER * 2).timestamp()
    for part in (gone, stale):
        os.utime(part, (long_ago, long_ago))
    real_stat = export_jobs.Path.stat

    def vanished(path, *args, **kwargs):
        if path.name == gone.name:  # its run renamed it between the listing and the look
            path.unlink()
            raise FileNotFoundError(path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(export_jobs.Path, "stat", vanished)

    export_jobs._remove_stale_parts(timezone.now())

    # No error; the other stale part is removed all the same, a recent one (a run's) is kept.
    assert [p.name for p in export_root.iterdir()] == [fresh.name]


def test_the_task_time_limits_follow_the_setting():
    app.loader.import_default_modules()
    registered = app.tasks[export_jobs.TASK_NAME]  # the task the jobs' messages name
    assert registered.time_limit == settings.EXPORT_TASK_TIME_LIMIT
    assert registered.soft_time_limit < registered.time_limit
    assert jobs.export_job_run.time_limit == settings.EXPORT_TASK_TIME_LIMIT
    limit = datetime.timedelta(seconds=settings.EXPORT_TASK_TIME_LIMIT)
    assert limit < export_jobs.STALE_RUNNING_AFTER


def test_a_file_is_gone_once_the_sponsor_changes_export_profile(
    sponsor_client, clinical_data, sent, sponsor
):
    sponsor.export_profile = "limited"
    sponsor.save()
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]
    jobs.export_job_run(job_id)
    assert ExportJob.objects.get(pk=job_id).params["profile"] == "limited"
    assert sponsor_client.get(f"{URL}/{job_id}/file").status_code == 200

    sponsor.export_profile = "safe_harbor"
    sponsor.save()

    response = sponsor_client.get(f"{URL}/{job_id}/file")
    assert response.status_code == 410
    assert "limited export profile" in response.json()["detail"]
    assert sponsor_client.get(f"{URL}/{job_id}").json()["file_url"] is None


@pytest.fixture
def progress_seen(monkeypatch):
    """The job's (rows_written, status) after each progress write, saved every row."""
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(exports, "STREAM_BUFFER", 1)
    seen = []
    save = export_jobs._save_progress

    def spy(progress_db, job_id, started_at, rows):
        save(progress_db, job_id, started_at, rows)
        with progress_db.cursor() as cursor:  # the test's own connection may be in the COPY
            table = ExportJob._meta.db_table
            cursor.execute(f"SELECT rows_written, status FROM {table} WHERE id = %s", [job_id])
            seen.append(cursor.fetchone())

    monkeypatch.setattr(export_jobs, "_save_progress", spy)
    return seen


# Progress is saved on a connection of its own (the job's may be in a COPY): committed data.
@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_progress_is_written_while_the_job_runs(
    transactional_db, sponsor_client, clinical_data, sent, progress_seen, fmt
):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": fmt}).json()["id"]

    jobs.export_job_run(job_id)

    assert (1, "running") in progress_seen
    job = ExportJob.objects.get(pk=job_id)
    assert (job.status, job.rows_written, job.rows_total) == ("done", 2, 2)


def test_a_queued_job_is_not_downloadable(sponsor_client, clinical_data, sent):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]

    assert sponsor_client.get(f"{URL}/{job_id}").json()["file_url"] is None
    assert sponsor_client.get(f"{URL}/{job_id}/file").status_code == 404


def test_resume_sends_again_only_jobs_queued_too_long(sponsor_client, clinical_data, sent):
    old = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]
    fresh = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]
    ExportJob.objects.filter(pk=old).update(
        created_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    sent.clear()

    assert export_jobs.export_jobs_resume() == 1

    assert sent == [("trials.sponsor_api.tasks.export_job_run", [old])]
    assert fresh not in str(sent)


def test_another_sponsor_sees_no_job_and_no_file(
    sponsor_client, other_sponsor_client, clinical_data, sent
):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]
    jobs.export_job_run(job_id)

    assert other_sponsor_client.get(f"{URL}/{job_id}").status_code == 404
    assert other_sponsor_client.get(f"{URL}/{job_id}/file").status_code == 404
    own_trial = f"/api/v1/trials/USONA-MDD/exports/{job_id}"
    assert other_sponsor_client.get(own_trial).status_code == 404
    assert other_sponsor_client.get(f"{own_trial}/file").status_code == 404
    assert (
        post_job(other_sponsor_client, {"resource": "vitals", "format": "csv"}).status_code == 404
    )


def test_jobs_need_a_key(client, sponsor_client, clinical_data, sent):
    job_id = post_job(sponsor_client, {"resource": "vitals", "format": "csv"}).json()["id"]

    assert post_job(client, {"resource": "vitals", "format": "csv"}).status_code == 401
    assert client.get(f"{URL}/{job_id}").status_code == 401
    assert client.get(f"{URL}/{job_id}/file").status_code == 401


def test_an_unknown_job_is_404(sponsor_client, clinical_data):
    assert sponsor_client.get(f"{URL}/7d1c6f4e-0000-4000-8000-000000000000").status_code == 404


def test_the_openapi_schema_describes_odm_fhir_and_jobs(db):
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    odm = paths["/api/v1/trials/{code}/odm"]["get"]
    assert "application/xml" in odm["responses"]["200"]["content"]
    fhir = paths["/api/v1/trials/{code}/fhir"]["get"]
    assert "application/fhir+json" in fhir["responses"]["200"]["content"]
    create = paths["/api/v1/trials/{code}/exports"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/ExportJobRequest")
    assert {"202", "400", "404"} <= set(create["responses"])
    assert "/api/v1/trials/{code}/exports/{job_id}" in paths
    assert "/api/v1/trials/{code}/exports/{job_id}/file" in paths


# --- through a real Celery worker and Redis (tests/workers.py) --------------------------------


@pytest.mark.slow
@pytest.mark.smoke  # the one round-trip through a real Celery worker and Redis
def test_a_job_runs_in_a_real_worker_and_its_file_downloads(
    celery, sponsor_client, clinical_data, sponsor, trial, export_root
):
    celery.worker(EXPORT_ROOT=str(export_root))

    response = post_job(sponsor_client, {"resource": "vitals", "format": "ndjson"})

    job_id = response.json()["id"]
    done = lambda: sponsor_client.get(f"{URL}/{job_id}").json()["status"] == "done"  # noqa: E731
    wait_until(done, 60, "the worker to finish the export job")
    body = b"".join(sponsor_client.get(f"{URL}/{job_id}/file").streaming_content)
    assert body == expected_ndjson(sponsor, trial)
    assert ExportJob.objects.get(pk=job_id).rows_written == 2


@pytest.mark.slow
def test_a_job_accepted_with_redis_down_is_resumed_by_the_reconciliation(
    celery, sponsor_client, clinical_data, sponsor, trial, export_root
):
    celery.worker(EXPORT_ROOT=str(export_root))
    celery.redis.stop()

    response = post_job(sponsor_client, {"resource": "vitals", "format": "csv"})

    assert response.status_code == 202
    job_id = response.json()["id"]
    celery.redis.start()
    ExportJob.objects.filter(pk=job_id).update(
        created_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    assert export_jobs.export_jobs_resume() == 1
    done = lambda: ExportJob.objects.get(pk=job_id).status == "done"  # noqa: E731
    wait_until(done, 60, "the resumed export job to finish")
    body = b"".join(sponsor_client.get(f"{URL}/{job_id}/file").streaming_content)
    expected = exports.export_stream(
        sponsor=sponsor, trial=trial, resource="vitals", fmt="csv", params={}
    )
    assert body == b"".join(expected)


def test_jobs_are_for_sponsor_keys_only(api_client_of, clinical_data, coordinator_site_a, sent):
    client = api_client_of(coordinator_site_a)

    assert post_job(client, {"resource": "vitals", "format": "csv"}).status_code == 403
    assert not ExportJob.objects.exists()
