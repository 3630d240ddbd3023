"""Resuming an analysis: re-send what its current stage waits for (lost worker, lost messages).

Derived from the step table (:mod:`steps`); every step is idempotent, so sending one whose output
exists costs a check (and re-runs its join), not a second computation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from monitoring.models import Analysis
from monitoring.services.pipeline import state
from monitoring.services.pipeline.steps import STAGE_LINE, STEP, STEPS, Stage
from monitoring.storage.inputs import AnalysisInputs

Enqueue = Callable[..., None]  # enqueue(task_name, *args)


def _window_output(dotted: str) -> Callable[[AnalysisInputs, int], Path]:
    module, name = dotted.rsplit(".", 1)
    output: Callable[[AnalysisInputs, int], Path] = getattr(
        importlib.import_module(f"monitoring.services.pipeline.{module}"), name
    )
    return output


def _reached(tasks: set[str]) -> set[str]:
    """Tasks that sending ``tasks`` sends again through their plain successors (not through joins)."""
    seen: set[str] = set()
    todo = [t for task in tasks for t in STEP[task].then if isinstance(t, str)]
    while todo:
        t = todo.pop()
        if t not in seen:
            seen.add(t)
            todo += [n for n in STEP[t].then if isinstance(n, str)]
    return seen


def pending(analysis: Analysis) -> list[tuple[str, tuple[int, ...]]]:
    """The tasks that re-create every piece of work the analysis' current stage may still wait for.

    Derived from the table: the steps working in the current stage that must finish in it (sent even
    when done: they re-run the stage's join) or whose part is not done, less those a parent on the
    list sends again; a per-window step for each window without output (one, to close the stage,
    when all have one).
    Each is idempotent: a step whose output exists only re-runs its join.
    """
    pk = analysis.pk
    stage = Stage.LOOKUP if analysis.stage == Stage.QUEUED else Stage(analysis.stage)
    here = [s for s in STEPS if stage in s.stages]
    wanted = {s.task for s in here if s.stages[-1] == stage or (s.part and not state.is_done(pk, s.part))}
    wanted -= _reached(wanted)
    tasks: list[tuple[str, tuple[int, ...]]] = []
    for step in here:
        if step.task not in wanted:
            continue
        if not step.per_window:
            tasks.append((step.task, (pk,)))
            continue
        inputs = AnalysisInputs(analysis)
        windows = [w.index for w in inputs.grid.windows()]
        output = _window_output(step.window_output)
        todo = [i for i in windows if not output(inputs, i).exists()]
        tasks += [(step.task, (pk, i)) for i in todo or windows[:1]]
    return tasks


def resume(analysis_id: int, enqueue: Enqueue | None = None) -> list[str]:
    """Re-enqueue what the analysis' current stage waits for (after a lost worker or lost messages).

    Returns the task names sent (empty for a finished or unknown analysis).
    """
    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.status in state.FINISHED:
        return []
    tasks = pending(analysis)
    send = enqueue or state.enqueue
    for name, args in tasks:
        send(name, *args)
    return [name for name, _ in tasks]


def resume_if_past(analysis_id: int, task: str, enqueue: Enqueue | None = None) -> bool:
    """If the analysis has moved past every stage ``task`` works in, resume its current stage; True then."""
    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.status in state.FINISHED:
        return False
    last = max(STAGE_LINE.index(s) for s in STEP[task].stages)
    if STAGE_LINE.index(Stage(analysis.stage)) <= last:
        return False
    resume(analysis_id, enqueue)
    return True
