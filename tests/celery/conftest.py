from tests.workers import celery, celery_redis  # noqa: F401  (fixtures)
