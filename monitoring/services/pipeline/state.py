"""Progress, stage transitions, cancel checks and failure recording of an analysis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from monitoring.models import Analysis

# Progress bands of each stage (percent at its start and end).
STAGE_SPAN: dict[str, tuple[int, int]] = {
    "lookup": (0, 40),
    "relabel": (40, 55),
    "classify": (55, 85),
    "change": (85, 95),
    "finalize": (95, 100),
}
NEXT_STAGE = {
    "lookup": "relabel",
    "relabel": "classify",
    "classify": "change",
    "change": "finalize",
    "finalize": "done",
}
STAGE_TASK = {
    "relabel": "analysis.relabel",
    "change": "analysis.change",
    "finalize": "analysis.finalize",
}
FINISHED = {Analysis.Status.DONE, Analysis.Status.FAILED, Analysis.Status.CANCELLED}


class Cancelled(Exception):
    """The analysis was cancelled: stop at the next window."""


def current(analysis_id: int, stage: str) -> Analysis | None:
    """The analysis if it is running ``stage`` (or queued before lookup), else None: the stage guard."""
    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.status in FINISHED:
        return None
    if analysis.stage != stage and not (stage == "lookup" and analysis.stage == Analysis.Stage.QUEUED):
        return None
    return analysis


def check_cancel(analysis_id: int) -> None:
    """Raise :class:`Cancelled` if the user asked to cancel."""
    if Analysis.objects.filter(pk=analysis_id, cancel_requested=True).exists():
        raise Cancelled()


def set_progress(analysis_id: int, stage: str, fraction: float) -> None:
    """Progress inside ``stage`` (0..1) mapped to the analysis' percent; never goes backwards."""
    lo, hi = STAGE_SPAN[stage]
    pct = int(lo + (hi - lo) * max(0.0, min(1.0, fraction)))
    Analysis.objects.filter(pk=analysis_id, stage=stage, progress__lt=pct).update(progress=pct)


def advance(analysis_id: int, stage: str) -> bool:
    """Move from ``stage`` to the next one; True only for the caller that made the move (exactly one)."""
    nxt = NEXT_STAGE[stage]
    values: dict = {"stage": nxt, "progress": STAGE_SPAN.get(nxt, (100, 100))[0]}
    if nxt == "done":
        values.update(status=Analysis.Status.DONE, progress=100, finished_at=timezone.now())
    moved = Analysis.objects.filter(pk=analysis_id, stage=stage, status=Analysis.Status.RUNNING).update(
        **values
    )
    return moved == 1


def enqueue(task_name: str, *args: object) -> None:
    """Send a pipeline task by name once the current transaction commits."""
    from webapp.celery import app

    transaction.on_commit(lambda: app.send_task(task_name, args=list(args)))


def record_timing(analysis_id: int, stage: str, seconds: float, *, reused: bool = False) -> None:
    """Add ``seconds`` to the stage's timing (window tasks add up); mark reused stages."""
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().get(pk=analysis_id)
        timings = dict(analysis.timings or {})
        timings[stage] = round(float(timings.get(stage, 0.0)) + seconds, 3)
        if reused:
            timings.setdefault("reused", [])
            if stage not in timings["reused"]:
                timings["reused"].append(stage)
        analysis.timings = timings
        analysis.save(update_fields=["timings"])


@contextmanager
def timed(analysis_id: int, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    record_timing(analysis_id, stage, time.perf_counter() - start)


def fail(analysis_id: int, message: str) -> None:
    """Mark the analysis failed with a message a user can act on."""
    Analysis.objects.filter(pk=analysis_id).exclude(status__in=FINISHED).update(
        status=Analysis.Status.FAILED, error_message=message[:2000], finished_at=timezone.now()
    )


def mark_cancelled(analysis_id: int) -> None:
    Analysis.objects.filter(pk=analysis_id).exclude(status__in=FINISHED).update(
        status=Analysis.Status.CANCELLED, finished_at=timezone.now()
    )
