"""A task goes through the real broker to a real worker process, which writes to the real database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from testkit import REPO
from testkit.workers import start_worker, stop_worker

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_task_through_redis_writes_to_postgis(celery_worker) -> None:
    from django.db import connection

    from monitoring.models import WorkerHeartbeat
    from tasks.health import heartbeat

    assert connection.vendor == "postgresql"
    token = uuid.uuid4().hex
    heartbeat.delay(token)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not WorkerHeartbeat.objects.filter(token=token).exists():
        time.sleep(0.1)
    row = WorkerHeartbeat.objects.get(token=token)
    assert row.hostname


def test_spatialite_and_filesystem_broker_default(tmp_path: Path) -> None:
    """The serverless default: SpatiaLite file + filesystem broker, worker and client as processes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_TASK_DEFAULT_QUEUE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings.base", ESD_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1"
    )
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr
    worker = start_worker(env, "esd", tmp_path / "worker.log")
    token = uuid.uuid4().hex
    try:
        check = subprocess.run(
            [sys.executable, "manage.py", "healthcheck", "--timeout", "20"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        send = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                f"from tasks.health import heartbeat; heartbeat.delay('{token}')",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert send.returncode == 0, send.stderr
        rows: list[tuple[str]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not rows:
            with sqlite3.connect(tmp_path / "var" / "db.sqlite3") as db:
                rows = db.execute(
                    "SELECT hostname FROM monitoring_workerheartbeat WHERE token = ?", (token,)
                ).fetchall()
            time.sleep(0.2)
    finally:
        stop_worker(worker)
    assert check.returncode == 0, check.stdout + check.stderr
    report = json.loads(check.stdout.strip().splitlines()[-1])
    assert report == {"database": "ok", "broker": "ok", "worker": "ok", "status": "ok"}
    assert rows and rows[0][0], "the worker did not write its row to the SpatiaLite database"
