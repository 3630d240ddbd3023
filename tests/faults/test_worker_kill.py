"""SIGKILL the worker (main process and pool child) in the middle of each stage of a real analysis.

Each stage, and the tasks that run beside the stages (the attribution of TasGen's changes, the
similarity and ESD preview products), is killed once.

After a new worker starts, Redis redelivers the unacknowledged task once the visibility timeout
(``CELERY_VISIBILITY_TIMEOUT=20`` in tests) has passed; the job must finish ``done`` with the same
statistics, dynamic samples and products as an undisturbed run, and no duplicate (label, year) rows.
Each run starts from an empty stage cache so that every stage really computes.
"""

from __future__ import annotations

import json
import time

import pytest

from testkit.workers import stop_worker
from tests.faults.harness import (
    KILL_CASES,
    PARAMETERS,
    Outcome,
    clear_stage_cache,
    outcome,
    private_queue,
    sigkill,
    task_running,
    wait_finished,
    wait_for,
    worker_on,
)
from tests.monitoring.test_pipeline import start_demo_analysis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
# Long enough TasGen training for the relabel stage to be hit; otherwise the demo parameters.
_REFERENCE: dict[str, Outcome] = {}
RESULTS: list[dict] = []


def _reference(api, shared_data, env, tmp_path) -> Outcome:
    """The undisturbed run (computed once per session, compared by value: the database is flushed)."""
    if "demo" not in _REFERENCE:
        clear_stage_cache()
        with private_queue() as queue:
            worker = worker_on(env, queue, tmp_path / "reference.log", "ref")
            try:
                pk = start_demo_analysis(api, shared_data, parameters=PARAMETERS)
                analysis = wait_finished(pk, timeout=600)
            finally:
                stop_worker(worker)
        assert analysis.status == "done", analysis.error_message
        _REFERENCE["demo"] = outcome(pk)
    return _REFERENCE["demo"]


def _kill_during(stage: str, api, shared_data, worker_env, tmp_path) -> dict:
    reference = _reference(api, shared_data, worker_env, tmp_path)
    clear_stage_cache()
    task, stages = KILL_CASES[stage]
    with private_queue() as queue:
        first = worker_on(worker_env, queue, tmp_path / "first.log", "victim")
        try:
            pk = start_demo_analysis(api, shared_data, parameters=PARAMETERS)
            hit = wait_for(lambda: task_running(first, task), timeout=300)
            killed_at = time.monotonic()
            pids = sigkill(first)
        finally:
            stop_worker(first)
        assert hit, f"{task} never ran:\n{first.log()[-2000:]}"
        assert not any(f"Task {task}[" in ln and "succeeded" in ln for ln in first.log().splitlines()), (
            f"{task} finished before the kill"
        )
        from monitoring.models import Analysis

        at_kill = Analysis.objects.get(pk=pk)
        assert at_kill.stage in stages and at_kill.status == "running", (at_kill.stage, at_kill.status)
        second = worker_on(worker_env, queue, tmp_path / "second.log", "rescuer")
        try:
            analysis = wait_finished(pk, timeout=300)
        finally:
            stop_worker(second)
    recovered_s = time.monotonic() - killed_at
    assert analysis.status == "done", analysis.error_message
    result = outcome(pk)
    assert result.distinct_label_years == result.samples  # no duplicate (label, year) rows
    assert result == reference
    row = {
        "stage": stage,
        "killed_pids": len(pids),
        "recovered_s": round(recovered_s, 1),
        "samples": result.samples,
        "products": len(result.products),
    }
    RESULTS.append(row)
    print("FAULT:", json.dumps(row))
    return row


def test_kill_worker_during_relabel_then_restart_finishes_identically(
    api,
    demo_store,
    worker_env,
    shared_data,
    tmp_path,
) -> None:
    _kill_during("relabel", api, shared_data, worker_env, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["lookup", "attribution", "esd_products", "classify", "change", "finalize"])
def test_kill_worker_during_stage_then_restart_finishes_identically(
    stage,
    api,
    demo_store,
    worker_env,
    shared_data,
    tmp_path,
) -> None:
    _kill_during(stage, api, shared_data, worker_env, tmp_path)
