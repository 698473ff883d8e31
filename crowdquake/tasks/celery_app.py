"""Entry point for the ``celery`` command: the one place a Celery app is built at import."""

from crowdquake.tasks import make_celery

app = make_celery()
