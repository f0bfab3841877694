"""The Celery wiring: one beat schedule of registered tasks, late acks where safe, timeouts."""

from django.conf import settings

from registry.celery import app


def _tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_beat_entry_runs_a_registered_task():
    tasks = _tasks()
    assert settings.CELERY_BEAT_SCHEDULE
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in tasks, name


def test_the_notification_sweep_runs_every_minute_and_the_reconciliation_every_five():
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["trials.notifications.tasks.send_due_notifications"] == 60
    assert schedule["trials.notifications.tasks.reconcile"] == 300


def test_every_project_task_is_idempotent_and_acknowledged_after_it_ran():
    # Each one may run twice (redelivered after a lost worker) without doing anything twice:
    # tests/trials/test_notifications.py and tests/celery/ prove it task by task.
    for name, task in _tasks().items():
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True), name


def test_a_running_task_is_never_redelivered_by_the_broker():
    longest = max(task.time_limit or app.conf.task_time_limit for task in _tasks().values())
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest


def test_a_broken_redis_fails_a_publish_quickly_instead_of_hanging_the_request():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert settings.CELERY_TASK_PUBLISH_RETRY is False
    assert options["socket_connect_timeout"] <= 5 and options["socket_timeout"] <= 5
    assert settings.CELERY_BROKER_CONNECTION_TIMEOUT <= 5
