"""Runs the steps of :mod:`steps`: error handling, then sending what comes next; resume; inline runs.

A step that raises :class:`ApplicationError` or an ``ml`` error fails the analysis with its message; a
cancel ends it quietly; a transient database error (:data:`TRANSIENT`) is re-raised for the task to
retry, the analysis left running; anything else fails it with a plain-words message naming the stage
and a log reference (the traceback is logged under that reference) and is re-raised for the task's
own log. Sending is a function passed in (:data:`Enqueue`): the Celery tasks pass
:func:`state.enqueue`, :func:`run_inline` a local queue, tests a list.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Callable

from django.db import InterfaceError, OperationalError

from ml.errors import MLError
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline import state
from monitoring.services.pipeline.steps import STEP, Join, Step
from monitoring.storage.inputs import AnalysisInputs

logger = logging.getLogger(__name__)
Enqueue = Callable[..., None]  # enqueue(task_name, *args)
TRANSIENT: tuple[type[Exception], ...] = (OperationalError, InterfaceError)  # retried by the task


def _function(step: Step) -> Callable[..., object]:
    """The step's function (``monitoring.services.pipeline.<module>.<function>``)."""
    module, name = step.function.rsplit(".", 1)
    function: Callable[..., object] = getattr(
        importlib.import_module(f"monitoring.services.pipeline.{module}"), name
    )
    return function


def _guarded(analysis_id: int, label: str, fn: Callable[..., object], *args: object) -> object:
    try:
        return fn(analysis_id, *args)
    except state.Cancelled:
        state.mark_cancelled(analysis_id)
    except (ApplicationError, MLError) as exc:
        state.fail(analysis_id, str(getattr(exc, "message", exc)))
    except TRANSIENT:
        logger.warning("transient error in %s of analysis %s: retried", label, analysis_id, exc_info=True)
        raise
    except Exception:
        reference = f"analysis-{analysis_id}-{uuid.uuid4().hex[:8]}"
        logger.exception("analysis %s failed during %s [ref %s]", analysis_id, label, reference)
        state.fail(analysis_id, internal_error_message(label, reference))
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


def _join(analysis_id: int, join: Join) -> bool:
    """Leave the join's stage if every part is done; True for the one caller that moved it."""
    if state.current(analysis_id, join.stage) is None or not state.join(analysis_id, join.stage, join.parts):
        return False
    if join.progress:
        state.set_progress(analysis_id, state.NEXT_STAGE[join.stage], join.progress)
    return True


def _send(analysis_id: int, task: str, windows: list[int] | None, enqueue: Enqueue) -> None:
    if STEP[task].per_window:
        if windows is None:
            windows = [w.index for w in AnalysisInputs(Analysis.objects.get(pk=analysis_id)).grid.windows()]
        for index in windows:
            enqueue(task, analysis_id, index)
    else:
        enqueue(task, analysis_id)


def run_step(task: str, analysis_id: int, *args: int, enqueue: Enqueue) -> None:
    """Run the step of ``task`` and, when it returns a true value, send what follows it.

    A step returning a list of window indices (start) hands them to its per-window successors.
    """
    step = STEP[task]
    result = _guarded(analysis_id, step.label, _function(step), *args)
    if not result:
        return
    windows = result if isinstance(result, list) else None
    for then in step.then:
        if isinstance(then, Join):
            if _guarded(analysis_id, then.label, _join, then):
                _send(analysis_id, then.then, None, enqueue)
        else:
            _send(analysis_id, then, windows, enqueue)


def run_inline(analysis_id: int, retries: int = 5) -> Analysis:
    """Run a whole analysis in this process, no broker (demo loading, scripts); returns it finished.

    As with the Celery tasks, a step that raises a transient error (:data:`TRANSIENT`) runs again,
    at most ``retries`` times in all; the analysis is not failed by it.
    """
    queue: list[tuple[str, tuple[int, ...]]] = [("analysis.start", (analysis_id,))]

    def enqueue(name: str, *args: int) -> None:
        queue.append((name, args))

    while queue:
        name, args = queue.pop(0)
        try:
            run_step(name, *args, enqueue=enqueue)
        except TRANSIENT:
            if retries <= 0:
                raise
            retries -= 1
            queue.append((name, args))
    return Analysis.objects.get(pk=analysis_id)
