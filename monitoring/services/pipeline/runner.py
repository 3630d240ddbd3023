"""Runs one pipeline step for a task: error handling, then enqueueing what comes next.

A step that raises :class:`ApplicationError` or an ``ml`` error fails the analysis with its message; a
cancel ends it quietly; anything else fails it with the stage named and is re-raised for the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from ml.errors import MLError
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline import change, classify, finalize, lookup, relabel, state

logger = logging.getLogger(__name__)
T = TypeVar("T")

ENTRY_TASK = {
    "queued": "analysis.start",
    "lookup": "analysis.start",
    "relabel": "analysis.relabel",
    "classify": "analysis.classify_prepare",
    "change": "analysis.change",
    "finalize": "analysis.finalize",
}


def _guarded(analysis_id: int, stage: str, step: Callable[..., T], *args: object) -> T | None:
    try:
        return step(analysis_id, *args)
    except state.Cancelled:
        state.mark_cancelled(analysis_id)
    except (ApplicationError, MLError) as exc:
        state.fail(analysis_id, str(getattr(exc, "message", exc)))
    except Exception as exc:
        state.fail(analysis_id, f"internal error during {stage}: {type(exc).__name__}: {exc}")
        raise
    return None


def resume(analysis_id: int) -> str | None:
    """Re-enqueue the entry task of the analysis' current stage (after a lost worker); returns its name."""
    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.status in state.FINISHED:
        return None
    name = ENTRY_TASK[analysis.stage]
    state.enqueue(name, analysis_id)
    return name


STAGE_ORDER = ["queued", "lookup", "relabel", "classify", "change", "finalize", "done"]


def resume_if_past(analysis_id: int, stage: str) -> bool:
    """If the analysis has moved past ``stage``, resume its current stage and return True."""
    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.status in state.FINISHED:
        return False
    if STAGE_ORDER.index(analysis.stage) <= STAGE_ORDER.index(stage):
        return False
    resume(analysis_id)
    return True


def start(analysis_id: int) -> None:
    for index in _guarded(analysis_id, "lookup", lookup.lookup_start) or []:
        state.enqueue("analysis.lookup_window", analysis_id, index)


def lookup_window(analysis_id: int, index: int) -> None:
    if _guarded(analysis_id, "lookup", lookup.lookup_window, index):
        state.enqueue("analysis.relabel", analysis_id)


def run_relabel(analysis_id: int) -> None:
    if _guarded(analysis_id, "relabel", relabel.relabel):
        state.enqueue("analysis.classify_prepare", analysis_id)


def classify_prepare(analysis_id: int) -> None:
    for index in _guarded(analysis_id, "classify", classify.classify_prepare) or []:
        state.enqueue("analysis.classify_window", analysis_id, index)


def classify_window(analysis_id: int, index: int) -> None:
    if _guarded(analysis_id, "classify", classify.classify_window, index):
        state.enqueue("analysis.change", analysis_id)


def run_change(analysis_id: int) -> None:
    if _guarded(analysis_id, "change", change.write_products):
        state.enqueue("analysis.finalize", analysis_id)


def run_finalize(analysis_id: int) -> None:
    _guarded(analysis_id, "finalize", finalize.finalize)


STEPS: dict[str, Callable[..., None]] = {
    "analysis.start": start,
    "analysis.lookup_window": lookup_window,
    "analysis.relabel": run_relabel,
    "analysis.classify_prepare": classify_prepare,
    "analysis.classify_window": classify_window,
    "analysis.change": run_change,
    "analysis.finalize": run_finalize,
}


def run_inline(analysis_id: int) -> Analysis:
    """Run a whole analysis in this process, no broker (demo loading, scripts); returns it finished."""
    pending: list[tuple[str, tuple[object, ...]]] = [("analysis.start", (analysis_id,))]
    original = state.enqueue
    state.enqueue = lambda name, *args: pending.append((name, args))  # type: ignore[assignment]
    try:
        while pending:
            name, args = pending.pop(0)
            STEPS[name](*args)
    finally:
        state.enqueue = original  # type: ignore[assignment]
    return Analysis.objects.get(pk=analysis_id)
