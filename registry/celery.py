"""The Celery application: configuration from Django settings under CELERY_."""

import os

from celery import Celery

from trials.apps import FEATURE_PACKAGES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")

app = Celery("registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # each installed app's tasks module
app.autodiscover_tasks([f"trials.{name}" for name in FEATURE_PACKAGES])
