"""Restart the Redis broker in the middle of a real analysis: the job resumes (or fails with a message).

A private ``redis-server`` (free port, RDB snapshots off) carries this test's messages only, either
with AOF persistence as in production (``--appendonly yes``) or with none (``--appendonly no``: the
restart loses every queued and unacknowledged message). It is stopped with SIGTERM (as in a service
restart) while the worker is inside relabel, started again on the same port, and the job must end
within a bounded time: never hang. Without persistence the queued window lookup is lost with the
restart; Celery beat's watchdog (every second here, stall time 4 s) finds the job with nothing
queued and no heartbeat, and resumes it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from testkit.workers import stop_worker
from tests.faults.harness import (
    PARAMETERS,
    WATCHDOG,
    beat_on,
    outcome,
    private_queue,
    stop_beat,
    task_running,
    wait_finished,
    wait_for,
    worker_on,
)
from tests.monitoring.test_pipeline import start_demo_analysis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
REDIS = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A ``redis-server`` process on ``port`` with its AOF in ``folder``; ``restart`` keeps both."""

    def __init__(self, port: int, folder: Path, persistence: str) -> None:
        self.port, self.folder, self.persistence = port, folder, persistence
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [str(REDIS), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.persistence == "aof":
            args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)]
        else:  # nothing survives the restart: queued and unacknowledged messages are lost
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(self._answers, timeout=10, interval=0.05):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)

    def restart(self) -> float:
        """Stop and start again; returns how long the broker was down (s)."""
        t0 = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - t0


@contextmanager
def broker(url: str) -> Iterator[None]:
    """Publish this process' tasks to ``url`` (connection and producer pools rebuilt), then restore.

    Celery reads ``CELERY_BROKER_URL`` from the environment before its configuration: both are set.
    """
    from webapp.celery import app

    old = os.environ.get("CELERY_BROKER_URL", app.conf.broker_url)

    def use(value: str) -> None:
        os.environ["CELERY_BROKER_URL"] = value
        app.conf.broker_url = value
        app._pool = None  # not closed: kombu keeps pools per URL, and the original one is reused after
        app.amqp._producer_pool = None

    use(url)
    try:
        yield
    finally:
        use(old)


@pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")
@pytest.mark.parametrize("persistence", ["aof", pytest.param("none", marks=pytest.mark.slow)])
def test_redis_restart_mid_job_resumes_or_fails_cleanly(
    persistence,
    api,
    demo_store,
    worker_env,
    shared_data,
    tmp_path,
) -> None:
    server = RedisServer(_free_port(), tmp_path, persistence)
    server.start()
    try:
        with broker(server.url), private_queue() as queue:
            worker = worker_on(
                worker_env,
                queue,
                tmp_path / "worker.log",
                "redis",
                CELERY_BROKER_URL=server.url,
                **WATCHDOG,
            )
            beat = beat_on(worker_env, queue, tmp_path, every_s=1, CELERY_BROKER_URL=server.url, **WATCHDOG)
            try:
                pk = start_demo_analysis(api, shared_data, parameters=PARAMETERS)
                assert wait_for(lambda: task_running(worker, "analysis.relabel"), timeout=300), worker.log()[
                    -2000:
                ]
                down_s = server.restart()
                t0 = time.monotonic()
                analysis = wait_finished(pk, timeout=240)  # AssertionError "hangs" when it does not end
                ended_s = time.monotonic() - t0
            finally:
                stop_beat(beat)
                stop_worker(worker)
    finally:
        server.stop()
    assert analysis.status in {"done", "failed"}, analysis.status
    if analysis.status == "failed":
        assert analysis.error_message and "Traceback" not in analysis.error_message
    else:
        result = outcome(pk)
        assert result.distinct_label_years == result.samples > 0
    row = {
        "fault": f"redis restart in relabel ({persistence})",
        "down_s": round(down_s, 2),
        "ended_s": round(ended_s, 1),
    }
    row["status"] = analysis.status
    row["watchdog_resumes"] = worker.log().count(f"watchdog: analysis {pk} ")
    print("FAULT:", json.dumps(row))
