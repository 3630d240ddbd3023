"""Progress, stage transitions, joins, cancel checks and failure recording of an analysis.

``Analysis.stage`` moves along one line (lookup -> relabel -> classify -> change -> finalize -> done);
some tasks run beside it (relabel while the windows are looked up, the attribution and the ESD
products while the windows are classified). A side task records that it is done with a marker file
(:func:`mark_done`); the stage it must finish before moves on only in a :func:`join`, which every
party calls after writing its own marker, so the last one to finish always sees all markers.
"""

from __future__ import annotations

import logging
from pathlib import Path

from celery import current_app
from django.db import transaction
from django.utils import timezone

from ml.atomic import write_bytes_atomic
from monitoring.models import Analysis
from monitoring.services.pipeline.steps import NEXT_STAGE, STAGE_SPAN, Stage, Step
from monitoring.storage.paths import work_dir

logger = logging.getLogger(__name__)

FINISHED = {Analysis.Status.DONE, Analysis.Status.FAILED, Analysis.Status.CANCELLED}


class Cancelled(Exception):
    """The analysis was cancelled: stop at the next window."""


def current(analysis_id: int, *stages: str) -> Analysis | None:
    """The analysis if it is in one of ``stages`` (lookup includes queued), else None: the stage guard."""
    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.status in FINISHED:
        return None
    stage = Analysis.Stage.LOOKUP if analysis.stage == Analysis.Stage.QUEUED else analysis.stage
    if stage not in stages:
        return None
    return analysis


def done_path(analysis_id: int, part: str) -> Path:
    return work_dir(analysis_id, "done") / part


def mark_done(analysis_id: int, part: str) -> None:
    """Record that ``part`` of the analysis has finished (a :class:`Part`)."""
    write_bytes_atomic(done_path(analysis_id, part), b"")


def is_done(analysis_id: int, part: str) -> bool:
    return done_path(analysis_id, part).exists()


def open_part(analysis_id: int, step: Step) -> tuple[Analysis | None, bool]:
    """The guard of a step that writes a part: ``(analysis, False)`` when the step should run now.

    ``(None, False)``: the analysis is not in one of the step's stages (or finished), or a part it
    needs is not done yet: nothing to do. ``(None, True)``: its part is already done (a redelivered
    task). Raises :class:`Cancelled` when the user asked to cancel and the step would run.
    """
    analysis = current(analysis_id, *step.stages)
    if analysis is None or not all(is_done(analysis_id, p) for p in step.needs):
        return None, False
    if step.part is not None and is_done(analysis_id, step.part):
        return None, True
    check_cancel(analysis_id)
    return analysis, False


def join(analysis_id: int, stage: str, parts: tuple[str, ...]) -> bool:
    """Move on from ``stage`` once every part in ``parts`` is marked done; True for the caller that moved.

    Each party calls this after its own :func:`mark_done`, so whichever finishes last sees every
    marker; :func:`advance` lets exactly one of them move the stage.
    """
    if not all(is_done(analysis_id, p) for p in parts):
        return False
    return advance(analysis_id, stage)


def check_cancel(analysis_id: int) -> None:
    """Raise :class:`Cancelled` if the user asked to cancel."""
    if Analysis.objects.filter(pk=analysis_id, cancel_requested=True).exists():
        raise Cancelled()


def set_progress(analysis_id: int, stage: str, fraction: float) -> None:
    """Progress inside ``stage`` (0..1) mapped to the analysis' percent; never goes backwards."""
    lo, hi = STAGE_SPAN[Stage(stage)]
    pct = int(lo + (hi - lo) * max(0.0, min(1.0, fraction)))
    Analysis.objects.filter(pk=analysis_id, stage=stage, progress__lt=pct).update(progress=pct)


def set_step(analysis_id: int, stage: str, what: str, done: int, total: int) -> None:
    """What the stage is doing, for the progress display: ``timings["step"] = {"stage", "what", "done",
    "total"}`` (e.g. ``"windows", 3, 8``); the browser shows it with an ETA. Ignored once the stage moved."""
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().filter(pk=analysis_id, stage=stage).first()
        if analysis is None:
            return
        timings = dict(analysis.timings or {})
        old = timings.get("step") or {}
        if old.get("stage") == stage and old.get("what") == what and int(old.get("done", 0)) > done:
            return  # window tasks finish out of order: never go backwards
        timings["step"] = {"stage": stage, "what": what, "done": int(done), "total": int(total)}
        analysis.timings = timings
        analysis.save(update_fields=["timings"])


def advance(analysis_id: int, stage: str) -> bool:
    """Move from ``stage`` to the next one; True only for the caller that made the move (exactly one)."""
    nxt = NEXT_STAGE[Stage(stage)]
    values: dict[str, object] = {"stage": nxt, "progress": STAGE_SPAN.get(nxt, (100, 100))[0]}
    if nxt == "done":
        values.update(status=Analysis.Status.DONE, progress=100, finished_at=timezone.now())
    moved = Analysis.objects.filter(pk=analysis_id, stage=stage, status=Analysis.Status.RUNNING).update(
        **values
    )
    return moved == 1


def enqueue(task_name: str, *args: object) -> None:
    """Send a pipeline task by name once the current transaction commits."""
    transaction.on_commit(lambda: current_app.send_task(task_name, args=list(args)))


def fail(analysis_id: int, message: str) -> None:
    """Mark the analysis failed with a message a user can act on."""
    Analysis.objects.filter(pk=analysis_id).exclude(status__in=FINISHED).update(
        status=Analysis.Status.FAILED, error_message=message[:2000], finished_at=timezone.now()
    )


def mark_cancelled(analysis_id: int) -> None:
    Analysis.objects.filter(pk=analysis_id).exclude(status__in=FINISHED).update(
        status=Analysis.Status.CANCELLED, finished_at=timezone.now()
    )
