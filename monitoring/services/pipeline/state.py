"""Progress, stage transitions, joins, heartbeats, cancel checks and failure recording of an analysis.

``Analysis.stage`` moves along one line (lookup -> relabel -> classify -> change -> finalize -> done);
some tasks run beside it (relabel while the windows are looked up, the attribution and the ESD
products while the windows are classified). A side task records that it is done with a marker file
(:func:`mark_done`); the stage it must finish before moves on only in a :func:`join`, which every
party calls after writing its own marker, so the last one to finish always sees all markers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction
from django.utils import timezone

from monitoring.models import Analysis
from monitoring.services.pipeline.paths import work_dir, write_bytes_atomic

logger = logging.getLogger(__name__)

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


def done_path(analysis_id: int, part: str):  # type: ignore[no-untyped-def]
    return work_dir(analysis_id, "done") / part


def mark_done(analysis_id: int, part: str) -> None:
    """Record that ``part`` of the analysis has finished (relabel, model, attribution, esd_products, change)."""
    write_bytes_atomic(done_path(analysis_id, part), b"")


def is_done(analysis_id: int, part: str) -> bool:
    return done_path(analysis_id, part).exists()


def open_part(
    analysis_id: int, part: str, stages: tuple[str, ...], needs: tuple[str, ...] = ()
) -> tuple[Analysis | None, bool]:
    """The guard of a step that writes ``part``: ``(analysis, False)`` when the step should run now.

    ``(None, False)``: the analysis is not in one of ``stages`` (or finished), or a part of ``needs``
    is not done yet: nothing to do. ``(None, True)``: ``part`` is already done (a redelivered task).
    Raises :class:`Cancelled` when the user asked to cancel and the step would run.
    """
    analysis = current(analysis_id, *stages)
    if analysis is None or not all(is_done(analysis_id, p) for p in needs):
        return None, False
    if is_done(analysis_id, part):
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


def touch(analysis_id: int) -> None:
    """Record that a task of the analysis is alive (``updated_at``): what the watchdog calls progress."""
    Analysis.objects.filter(pk=analysis_id).update(updated_at=timezone.now())


HEARTBEAT_S = float(os.environ.get("ESD_HEARTBEAT_S", "30"))


@contextmanager
def heartbeat(analysis_id: int, every_s: float | None = None) -> Iterator[None]:
    """Touch the analysis now and every ``every_s`` seconds (a thread) while the block runs.

    A worker that dies stops beating, so an analysis with no touch for longer than the watchdog's
    stall time has nothing running; a long task (TasGen on many labels) keeps its analysis fresh.
    Failed touches (a locked SQLite file, a database restart) are logged and skipped.
    """
    every = HEARTBEAT_S if every_s is None else every_s
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    touch(analysis_id)
                except Exception as exc:  # a missed beat only makes the watchdog look earlier
                    logger.info("heartbeat of analysis %s skipped: %s", analysis_id, exc)
        finally:
            connections.close_all()  # this thread's own connections

    touch(analysis_id)
    thread = threading.Thread(target=beat, name=f"heartbeat-{analysis_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)


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
