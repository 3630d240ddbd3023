"""Shared fixtures: slow-test switch, a real Celery worker process on the test database and broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ESD_SHARED_DATA", REPO.parent / "shared" / "data"))
TEST_QUEUE = os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"esd-test-{uuid.uuid4().hex[:8]}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow (make test-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: the real Earth-observation data (read-only)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}; set ESD_SHARED_DATA")
    return SHARED_DATA


@dataclass
class WorkerProcess:
    """A running ``celery worker`` subprocess and what is needed to restart or kill it."""

    proc: subprocess.Popen
    env: dict[str, str]
    queue: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(
    env: dict[str, str], queue: str, log_path: Path, name: str = "w1", timeout: float = 90.0
) -> WorkerProcess:
    """Start a real Celery worker on ``queue`` and wait until it says it is ready."""
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "webapp",
            "worker",
            "-Q",
            queue,
            "-c",
            "1",
            "-n",
            f"{name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"celery worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        if " ready." in log_path.read_text(errors="replace"):
            return WorkerProcess(proc=proc, env=env, queue=queue, log_path=log_path)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"celery worker not ready after {timeout} s:\n{log_path.read_text()[-3000:]}")


def stop_worker(worker: WorkerProcess) -> None:
    if worker.proc.poll() is None:
        worker.proc.terminate()
        try:
            worker.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Environment for processes that must share the test database, broker queue and media folder."""
    from django.conf import settings
    from django.db import connection

    from webapp.celery import app

    app.conf.task_default_queue = TEST_QUEUE
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings.test",
        DATABASE_URL=f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CELERY_TASK_DEFAULT_QUEUE=TEST_QUEUE,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        ESD_STORE=str(settings.ESD_STORE),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="session")
def celery_worker(worker_env, tmp_path_factory) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    """One real Celery worker process consuming the test queue on Redis, writing to the test PostGIS."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = start_worker(worker_env, TEST_QUEUE, log_path)
    yield worker
    stop_worker(worker)
