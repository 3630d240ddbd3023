"""The watchdog (Celery beat + ``analysis.watchdog``): resumes a job whose messages were lost, and
leaves a moving job alone.

Real workers and a real ``celery beat`` (watchdog every second, stall time 4 s, worker heartbeat
every second) on a private queue, the Mato Grosso demo analysis (TasGen 150 epochs).
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest
import redis
from django.conf import settings

from testkit.workers import stop_worker
from tests.faults.harness import (
    PARAMETERS,
    WATCHDOG,
    WATCHDOG_STALL_S,
    beat_on,
    clear_stage_cache,
    outcome,
    private_queue,
    stop_beat,
    task_running,
    wait_finished,
    wait_for,
    worker_on,
)
from tests.faults.test_worker_kill import _reference
from tests.monitoring.test_pipeline import start_demo_analysis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SUCCEEDED = re.compile(r"^(\S+ \S+) .*Task (analysis\.\w+)\[[^\]]+\] succeeded in ([\d.]+)s")


def _drop_queue(queue: str) -> int:
    """Delete every message waiting in ``queue`` on the test broker; returns how many were lost."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = [k for k in client.scan_iter(match=f"{queue}*") if not k.startswith(b"_kombu")]
    lost = sum(int(client.llen(k)) for k in keys)
    if keys:
        client.delete(*keys)
    return lost


def _runs(log: str, task: str) -> list[tuple[float, float]]:
    """(start, end) epoch seconds of every finished run of ``task`` in a worker log."""
    out = []
    for line in log.splitlines():
        m = SUCCEEDED.match(line)
        if m and m[2] == task:
            end = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((end - float(m[3]), end))
    return out


def test_watchdog_resumes_an_analysis_whose_messages_were_lost(
    api, demo_store, worker_env, shared_data, tmp_path
) -> None:
    """As soon as the worker is inside relabel, the queued window lookup is deleted from Redis (as a
    broker restarted without persistence loses it). Nothing is left to move the job on: the
    watchdog must find it and resume it, and it must finish as an undisturbed run does."""
    reference = _reference(api, shared_data, worker_env, tmp_path)
    clear_stage_cache()
    with private_queue() as queue:
        worker = worker_on(worker_env, queue, tmp_path / "worker.log", "watched", **WATCHDOG)
        beat = beat_on(worker_env, queue, tmp_path, every_s=1, **WATCHDOG)
        try:
            pk = start_demo_analysis(api, shared_data, parameters=PARAMETERS)
            assert wait_for(lambda: task_running(worker, "analysis.relabel"), timeout=300), worker.log()[
                -2000:
            ]
            lost = _drop_queue(queue)
            lost_at = time.monotonic()
            analysis = wait_finished(pk, timeout=240)
            ended_s = time.monotonic() - lost_at
        finally:
            stop_beat(beat)
            stop_worker(worker)
    log = worker.log()
    resumes = log.count(f"watchdog: analysis {pk} ")
    assert lost >= 1  # the window lookup (and beat's pending messages)
    assert resumes >= 1, log[-3000:]
    assert analysis.status == "done", analysis.error_message
    result = outcome(pk)
    assert result.distinct_label_years == result.samples
    assert result == reference
    row = {"fault": "queued messages lost in relabel", "lost": lost, "ended_s": round(ended_s, 1)}
    row["resumes"] = resumes
    print("FAULT:", json.dumps(row))


def test_watchdog_leaves_a_moving_analysis_alone(api, demo_store, worker_env, shared_data, tmp_path) -> None:
    """Two workers: while one runs relabel (longer than the stall time, nothing else queued), the
    other runs the watchdog; relabel's heartbeat must keep the analysis from being resumed.

    The workers use the production visibility timeout: with the tests' 20 s (made for the worker-kill
    tests' redelivery), Redis hands a relabel running longer (a loaded machine) to the other worker
    while the first still runs it, and relabel runs twice for a reason that is not the watchdog's."""
    clear_stage_cache()
    with private_queue() as queue:
        workers = [
            worker_on(
                worker_env,
                queue,
                tmp_path / f"worker{i}.log",
                f"busy{i}",
                CELERY_VISIBILITY_TIMEOUT="3600",
                **WATCHDOG,
            )
            for i in range(2)
        ]
        beat = beat_on(worker_env, queue, tmp_path, every_s=1, **WATCHDOG)
        try:
            pk = start_demo_analysis(api, shared_data, parameters=PARAMETERS)
            analysis = wait_finished(pk, timeout=300)
        finally:
            stop_beat(beat)
            for w in workers:
                stop_worker(w)
    assert analysis.status == "done", analysis.error_message
    logs = [w.log() for w in workers]
    (relabel,) = [r for log in logs for r in _runs(log, "analysis.relabel")]
    checks = [
        r
        for log in logs
        for r in _runs(log, "analysis.watchdog")
        if relabel[0] + WATCHDOG_STALL_S < r[0] < relabel[1]
    ]
    assert relabel[1] - relabel[0] > WATCHDOG_STALL_S + 2, relabel  # relabel outlasts the stall time
    assert len(checks) >= 2, "the watchdog did not run while relabel did"
    assert not any(f"watchdog: analysis {pk} " in log for log in logs)
    print(
        "WATCHDOG:",
        json.dumps({"relabel_s": round(relabel[1] - relabel[0], 1), "checks_during": len(checks)}),
    )
