"""``/healthz`` reports database, broker and worker with a real worker round trip."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_healthz_all_ok_with_a_real_worker(celery_worker) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200, response.content
    assert response.json() == {"database": "ok", "broker": "ok", "worker": "ok", "status": "ok"}


@override_settings(HEALTHZ_WORKER_TIMEOUT=0.5)
def test_healthz_without_worker_says_so(worker_env) -> None:
    from webapp.celery import app

    queue = app.conf.task_default_queue
    app.conf.task_default_queue = "esd-nobody-listens"
    try:
        response = Client().get("/healthz")
    finally:
        app.conf.task_default_queue = queue
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["broker"] == "ok"
    assert body["worker"].startswith("error: no worker answered")
