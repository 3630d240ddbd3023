"""Shared fixtures: slow-test switch, a real Celery worker process on the test database and broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import SHARED_DATA
from testkit.workers import WorkerProcess, start_worker, stop_worker

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


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker) -> dict[str, str]:
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
def celery_worker(worker_env, tmp_path_factory) -> Iterator[WorkerProcess]:
    """One real Celery worker process consuming the test queue on Redis, writing to the test PostGIS."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = start_worker(worker_env, TEST_QUEUE, log_path)
    yield worker
    stop_worker(worker)
