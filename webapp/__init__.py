"""ESD Monitor Django project: settings, URLs, WSGI and the Celery app."""

from webapp.sqlite_compat import install as _install_sqlite

_install_sqlite()

from webapp.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
