"""Health checks of the database, the broker and the workers (``/healthz`` and ``manage.py preflight``)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db import connection

from monitoring.models import WorkerHeartbeat


@dataclass(frozen=True)
class Check:
    """One component's state: ``ok`` True when it answered; ``detail`` says what failed and what to set."""

    ok: bool
    detail: str = "ok"

    def as_text(self) -> str:
        return "ok" if self.ok else f"error: {self.detail}"


def check_database() -> Check:
    """A real query on the configured database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ok", reported in words
        return Check(False, f"cannot reach the database ({_short(exc)}); check DATABASE_URL")
    return Check(True)


def check_broker() -> Check:
    """Open a connection to the configured Celery broker."""
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=float(settings.CELERY_BROKER_CONNECTION_TIMEOUT))
    except Exception as exc:  # noqa: BLE001
        return Check(False, f"cannot reach the broker ({_short(exc)}); check CELERY_BROKER_URL")
    return Check(True)


def check_worker(timeout: float | None = None) -> Check:
    """Round trip: enqueue a heartbeat task and wait until a worker has written its row."""
    wait = settings.HEALTHZ_WORKER_TIMEOUT if timeout is None else timeout
    token = uuid.uuid4().hex
    try:
        current_app.send_task("health.heartbeat", args=[token], expires=wait + 30)
    except Exception as exc:  # noqa: BLE001
        return Check(False, f"cannot enqueue a task ({_short(exc)}); check CELERY_BROKER_URL")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        row = WorkerHeartbeat.objects.filter(token=token).first()
        if row is not None:
            row.delete()
            return Check(True, f"ok ({row.hostname})")
        time.sleep(0.1)
    return Check(False, f"no worker answered within {wait:g} s; start one with `make worker`")


def heartbeat_record(*, token: str, hostname: str) -> WorkerHeartbeat:
    """Store a worker's heartbeat (idempotent on ``token``)."""
    row, _ = WorkerHeartbeat.objects.get_or_create(token=token, defaults={"hostname": hostname})
    return row


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
