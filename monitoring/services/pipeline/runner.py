"""Runs one pipeline step for a task: error handling, then enqueueing what comes next.

A step that raises :class:`ApplicationError` or an ``ml`` error fails the analysis with its message; a
cancel ends it quietly; anything else fails it with a plain-words message naming the stage and a log
reference (the traceback is logged under that reference) and is re-raised for the task's own log.

The tasks and what each enqueues when it is done (``Analysis.stage`` in brackets)::

    start [lookup] ──> relabel ──> classify_prepare ──┐       (the model)
          │                   └──> attribute ─────────┼───────────────────────────┐
          └──> lookup_window x N ─> [relabel] ────────┴─> classify_window x N     │
                                     └──> esd_products ──────────────────┐        │
                                          [classify] ─> [change] change ─┴────────┴─> [finalize] finalize

A task with two arrows into it is started by whichever of its parents finishes last (a join on the
stage and the parents' outputs, :mod:`state`), exactly once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

from ml.errors import MLError
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline import change, classify, finalize, lookup, relabel, state
from monitoring.services.pipeline.inputs import AnalysisInputs

logger = logging.getLogger(__name__)
T = TypeVar("T")

STAGE_ORDER = ["queued", "lookup", "relabel", "classify", "change", "finalize", "done"]
# The stages in which each task does its work; a redelivered task found past them resumes the analysis.
TASK_STAGES: dict[str, tuple[str, ...]] = {
    "analysis.start": ("lookup",),
    "analysis.lookup_window": ("lookup",),
    "analysis.relabel": relabel.RELABEL_STAGES,
    "analysis.classify_prepare": relabel.RELABEL_STAGES,
    "analysis.attribute": relabel.ATTRIBUTION_STAGES,
    "analysis.esd_products": change.ESD_PRODUCT_STAGES,
    "analysis.classify_window": ("classify",),
    "analysis.change": ("change",),
    "analysis.finalize": ("finalize",),
}


def _guarded(analysis_id: int, stage: str, step: Callable[..., T], *args: object) -> T | None:
    try:
        return step(analysis_id, *args)
    except state.Cancelled:
        state.mark_cancelled(analysis_id)
    except (ApplicationError, MLError) as exc:
        state.fail(analysis_id, str(getattr(exc, "message", exc)))
    except Exception:
        reference = f"analysis-{analysis_id}-{uuid.uuid4().hex[:8]}"
        logger.exception("analysis %s failed during %s [ref %s]", analysis_id, stage, reference)
        state.fail(analysis_id, internal_error_message(stage, reference))
        raise
    return None


def internal_error_message(stage: str, reference: str) -> str:
    """What a user reads when a step fails unexpectedly: plain words and the log entry's reference.

    The exception and its traceback go to the worker log only (under ``[ref <reference>]``).
    """
    return (
        f"The analysis stopped because of an unexpected problem in the {stage} step. "
        f"Try starting it again; if it fails again, give the administrator this reference: {reference}."
    )


def pending(analysis: Analysis) -> list[tuple[str, tuple[int, ...]]]:
    """The tasks that re-create every piece of work the analysis' current stage may still wait for.

    Each is idempotent: a task whose output exists only re-runs its join, so sending one twice costs
    a check, not a second computation.
    """
    pk, stage = analysis.pk, analysis.stage
    if stage in ("queued", "lookup"):
        return [("analysis.start", (pk,))]  # it re-sends relabel and every window
    if stage == "finalize":
        return [("analysis.finalize", (pk,))]
    tasks: list[tuple[str, tuple[int, ...]]] = []
    if stage == "relabel":
        tasks.append(("analysis.relabel", (pk,)))  # when done, it re-sends classify_prepare + attribute
    elif not state.is_done(pk, "attribution"):
        tasks.append(("analysis.attribute", (pk,)))
    if not state.is_done(pk, "esd_products"):
        tasks.append(("analysis.esd_products", (pk,)))
    if stage == "classify":
        inputs = AnalysisInputs(analysis)
        windows = [w.index for w in inputs.grid.windows()]
        todo = [i for i in windows if not (classify.classify_dir(inputs) / f"w{i:05d}.npz").exists()]
        tasks += [("analysis.classify_window", (pk, i)) for i in todo or windows[:1]]
    if stage == "change":
        tasks.append(("analysis.change", (pk,)))
    return tasks


def resume(analysis_id: int) -> list[str]:
    """Re-enqueue what the analysis' current stage waits for (after a lost worker or lost messages).

    Returns the task names sent (empty for a finished or unknown analysis).
    """
    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.status in state.FINISHED:
        return []
    tasks = pending(analysis)
    for name, args in tasks:
        state.enqueue(name, *args)
    return [name for name, _ in tasks]


def resume_if_past(analysis_id: int, task: str) -> bool:
    """If the analysis has moved past every stage ``task`` works in, resume its current stage; True then."""
    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.status in state.FINISHED:
        return False
    last = max(STAGE_ORDER.index(s) for s in TASK_STAGES[task])
    if STAGE_ORDER.index(analysis.stage) <= last:
        return False
    resume(analysis_id)
    return True


def _classify_windows(analysis_id: int) -> None:
    for index in _guarded(analysis_id, "classify", classify.classify_join) or []:
        state.enqueue("analysis.classify_window", analysis_id, index)


def _finalize_if_ready(analysis_id: int) -> None:
    if _guarded(analysis_id, "change", change.finalize_join):
        state.enqueue("analysis.finalize", analysis_id)


def start(analysis_id: int) -> None:
    windows = _guarded(analysis_id, "lookup", lookup.lookup_start)
    if not windows:  # failed, cancelled, or the lookup stage is over
        return
    state.enqueue("analysis.relabel", analysis_id)  # first: TasGen is the longest task on the path
    for index in windows:
        state.enqueue("analysis.lookup_window", analysis_id, index)


def lookup_window(analysis_id: int, index: int) -> None:
    if _guarded(analysis_id, "lookup", lookup.lookup_window, index):
        state.enqueue("analysis.esd_products", analysis_id)
        _classify_windows(analysis_id)


def run_relabel(analysis_id: int) -> None:
    if _guarded(analysis_id, "relabel", relabel.relabel):
        state.enqueue("analysis.classify_prepare", analysis_id)
        state.enqueue("analysis.attribute", analysis_id)


def classify_prepare(analysis_id: int) -> None:
    if _guarded(analysis_id, "classify", classify.classify_prepare):
        _classify_windows(analysis_id)


def attribute(analysis_id: int) -> None:
    if _guarded(analysis_id, "attribution", relabel.attribute):
        _finalize_if_ready(analysis_id)


def esd_products(analysis_id: int) -> None:
    if _guarded(analysis_id, "change", change.write_esd_products):
        _finalize_if_ready(analysis_id)


def classify_window(analysis_id: int, index: int) -> None:
    if _guarded(analysis_id, "classify", classify.classify_window, index):
        state.enqueue("analysis.change", analysis_id)


def run_change(analysis_id: int) -> None:
    if _guarded(analysis_id, "change", change.write_products):
        _finalize_if_ready(analysis_id)


def run_finalize(analysis_id: int) -> None:
    _guarded(analysis_id, "finalize", finalize.finalize)


STEPS: dict[str, Callable[..., None]] = {
    "analysis.start": start,
    "analysis.lookup_window": lookup_window,
    "analysis.relabel": run_relabel,
    "analysis.classify_prepare": classify_prepare,
    "analysis.attribute": attribute,
    "analysis.esd_products": esd_products,
    "analysis.classify_window": classify_window,
    "analysis.change": run_change,
    "analysis.finalize": run_finalize,
}


def run_inline(analysis_id: int) -> Analysis:
    """Run a whole analysis in this process, no broker (demo loading, scripts); returns it finished."""
    pending_tasks: list[tuple[str, tuple[object, ...]]] = [("analysis.start", (analysis_id,))]
    original = state.enqueue
    state.enqueue = lambda name, *args: pending_tasks.append((name, args))  # type: ignore[assignment]
    try:
        while pending_tasks:
            name, args = pending_tasks.pop(0)
            STEPS[name](*args)
    finally:
        state.enqueue = original  # type: ignore[assignment]
    return Analysis.objects.get(pk=analysis_id)
