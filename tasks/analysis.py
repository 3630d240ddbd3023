"""Analysis pipeline tasks: each takes ids, calls one pipeline step, and lets the step enqueue the next.

All are ``acks_late`` (inherited from settings) and idempotent; a task redelivered after its worker died
re-runs its step (which skips finished work); when the analysis has moved past the stages the task
works in, it re-enqueues what the current stage waits for instead, so a worker killed between two
stages never leaves a job stuck. While a step runs, a heartbeat keeps the analysis' ``updated_at``
fresh; ``analysis.watchdog`` (run by Celery beat) resumes analyses that have none and nothing queued.
"""

from __future__ import annotations

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from monitoring.services.pipeline import runner, state, watchdog

RETRY = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": True, "max_retries": 5}


def _run(task: Task, analysis_id: int, *args: int) -> None:
    """Run the step of ``task`` under a heartbeat, or resume the analysis if the task is behind it."""
    name = task.name
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    if redelivered and runner.resume_if_past(analysis_id, name):
        return
    with state.heartbeat(analysis_id):
        runner.STEPS[name](analysis_id, *args)


@shared_task(bind=True, name="analysis.start", **RETRY)
def analysis_start(self: Task, analysis_id: int) -> None:
    _run(self, analysis_id)


@shared_task(bind=True, name="analysis.lookup_window", **RETRY)
def analysis_lookup_window(self: Task, analysis_id: int, index: int) -> None:
    _run(self, analysis_id, index)


@shared_task(bind=True, name="analysis.relabel", **RETRY)
def analysis_relabel(self: Task, analysis_id: int) -> None:
    _run(self, analysis_id)


@shared_task(bind=True, name="analysis.classify_prepare", **RETRY)
def analysis_classify_prepare(self: Task, analysis_id: int) -> None:
    _run(self, analysis_id)


@shared_task(bind=True, name="analysis.attribute", **RETRY)
def analysis_attribute(self: Task, analysis_id: int) -> None:
    _run(self, analysis_id)


@shared_task(bind=True, name="analysis.esd_products", **RETRY)
def analysis_esd_products(self: Task, analysis_id: int) -> None:
    _run(self, analysis_id)


@shared_task(bind=True, name="analysis.classify_window", **RETRY)
def analysis_classify_window(self: Task, analysis_id: int, index: int) -> None:
    _run(self, analysis_id, index)


@shared_task(bind=True, name="analysis.change", **RETRY)
def analysis_change(self: Task, analysis_id: int) -> None:
    _run(self, analysis_id)


@shared_task(bind=True, name="analysis.finalize", **RETRY)
def analysis_finalize(self: Task, analysis_id: int) -> None:
    _run(self, analysis_id)


@shared_task(name="analysis.watchdog")
def analysis_watchdog(stall_s: float = watchdog.STALL_S) -> list[int]:
    """Resume analyses with no progress for ``stall_s`` seconds and nothing queued; returns their ids."""
    return watchdog.resume_stalled(stall_s)
