"""Analysis pipeline tasks: each takes ids, calls one pipeline step, and lets the step enqueue the next.

All are ``acks_late`` (inherited from settings) and idempotent; a task redelivered after its worker died
re-runs its step (which skips finished work); when its stage is already over it re-enqueues the entry
task of the stage the analysis is in instead, so a worker killed between two stages never leaves a job
stuck.
"""

from __future__ import annotations

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from monitoring.services.pipeline import runner

RETRY = {"autoretry_for": (OperationalError, InterfaceError), "retry_backoff": True, "max_retries": 5}


def _behind(task: Task, analysis_id: int, stage: str) -> bool:
    """A redelivered task whose stage is already over resumes the current stage instead of running."""
    return bool((task.request.delivery_info or {}).get("redelivered")) and runner.resume_if_past(
        analysis_id, stage
    )


@shared_task(bind=True, name="analysis.start", **RETRY)
def analysis_start(self: Task, analysis_id: int) -> None:
    if not _behind(self, analysis_id, "lookup"):
        runner.start(analysis_id)


@shared_task(bind=True, name="analysis.lookup_window", **RETRY)
def analysis_lookup_window(self: Task, analysis_id: int, index: int) -> None:
    if not _behind(self, analysis_id, "lookup"):
        runner.lookup_window(analysis_id, index)


@shared_task(bind=True, name="analysis.relabel", **RETRY)
def analysis_relabel(self: Task, analysis_id: int) -> None:
    if not _behind(self, analysis_id, "relabel"):
        runner.run_relabel(analysis_id)


@shared_task(bind=True, name="analysis.classify_prepare", **RETRY)
def analysis_classify_prepare(self: Task, analysis_id: int) -> None:
    if not _behind(self, analysis_id, "classify"):
        runner.classify_prepare(analysis_id)


@shared_task(bind=True, name="analysis.classify_window", **RETRY)
def analysis_classify_window(self: Task, analysis_id: int, index: int) -> None:
    if not _behind(self, analysis_id, "classify"):
        runner.classify_window(analysis_id, index)


@shared_task(bind=True, name="analysis.change", **RETRY)
def analysis_change(self: Task, analysis_id: int) -> None:
    if not _behind(self, analysis_id, "change"):
        runner.run_change(analysis_id)


@shared_task(bind=True, name="analysis.finalize", **RETRY)
def analysis_finalize(self: Task, analysis_id: int) -> None:
    if not _behind(self, analysis_id, "finalize"):
        runner.run_finalize(analysis_id)
