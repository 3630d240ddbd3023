"""Analysis pipeline tasks, one per step of ``monitoring.services.pipeline.steps.STEPS``.

Each takes ids and runs its step through the runner, which sends the next ones. All are
``acks_late`` (inherited from settings) and idempotent; a task redelivered after its worker died
re-runs its step (which skips finished work); when the analysis has moved past the stages the task
works in, it re-enqueues what the current stage waits for instead, so a worker killed between two
stages never leaves a job stuck. Transient database errors retry the task (with backoff) and leave
the analysis running. While a step runs, a heartbeat keeps the analysis' ``updated_at`` fresh;
``analysis.watchdog`` (run by Celery beat) resumes analyses that have none and nothing queued.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from monitoring.services.pipeline import resume, runner, state, watchdog
from monitoring.services.pipeline.heartbeat import heartbeat
from monitoring.services.pipeline.steps import STEPS, Step

RETRY: dict[str, Any] = {"autoretry_for": runner.TRANSIENT, "retry_backoff": True, "max_retries": 5}


def _run(task: Task, analysis_id: int, *args: int) -> None:
    """Run the step of ``task`` under a heartbeat, or resume the analysis if the task is behind it."""
    name = task.name
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    if redelivered and resume.resume_if_past(analysis_id, name):
        return
    with heartbeat(analysis_id):
        runner.run_step(name, analysis_id, *args, enqueue=state.enqueue)


def _task(step: Step) -> Task:
    @shared_task(bind=True, name=step.task, **RETRY)
    def run(self: Task, analysis_id: int, *args: int) -> None:
        _run(self, analysis_id, *args)

    task: Task = run
    task.__doc__ = f"Step ``{step.function}`` of an analysis ({'per window' if step.per_window else 'once'})."
    return task


PIPELINE_TASKS: dict[str, Task] = {step.task: _task(step) for step in STEPS}
analysis_start = PIPELINE_TASKS["analysis.start"]  # what ``analysis_create`` sends


@shared_task(name="analysis.watchdog")
def analysis_watchdog(stall_s: float = watchdog.STALL_S) -> list[int]:
    """Resume analyses with no progress for ``stall_s`` seconds and nothing queued; returns their ids."""
    return watchdog.resume_stalled(stall_s)
