"""The analysis step graph, declared once: stages, markers, and a table of steps.

The tasks (``tasks/analysis.py``), the runner (what each step sends next, what a resume re-sends),
the state machine (the stage line and its progress spans), the watchdog and the map page (the
stage list it draws, :func:`stages_json`) are all derived from this module.

``Analysis.stage`` moves along :data:`STAGE_LINE`; some steps run beside it (relabel while the
windows are looked up, the attribution and the ESD products while the windows are classified). A
step that writes a :class:`Part` records it with a marker file; a :class:`Join` leaves its stage once
all its parts are marked, whichever party finishes last.

The graph (``Analysis.stage`` in brackets)::

    start [lookup] ──> relabel ──> classify_prepare ──┐       (the model)
          │                   └──> attribute ─────────┼───────────────────────────┐
          └──> lookup_window x N ─> [relabel] ────────┴─> classify_window x N     │
                                     └──> esd_products ──────────────────┐        │
                                          [classify] ─> [change] change ─┴────────┴─> [finalize] finalize
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from monitoring.models import Analysis

Stage = Analysis.Stage  # queued, lookup, relabel, classify, change, finalize, done


class Part(StrEnum):
    """A piece of work recorded by a marker file (``work/done/<part>``) when it is finished."""

    RELABEL = "relabel"  # dynamic samples stored
    MODEL = "model"  # map classifier trained
    ATTRIBUTION = "attribution"  # samples' attribution filled
    ESD_PRODUCTS = "esd_products"  # similarity and ESD preview COGs written
    CHANGE = "change"  # land-cover and change COGs written


STAGE_LINE: tuple[Stage, ...] = tuple(Stage)  # queued -> lookup -> ... -> finalize -> done
NEXT_STAGE: dict[Stage, Stage] = {a: b for a, b in zip(STAGE_LINE[1:-1], STAGE_LINE[2:], strict=True)}
STAGE_SPAN: dict[Stage, tuple[int, int]] = {  # progress percent at the start and end of each stage
    Stage.LOOKUP: (0, 40),
    Stage.RELABEL: (40, 55),
    Stage.CLASSIFY: (55, 85),
    Stage.CHANGE: (85, 95),
    Stage.FINALIZE: (95, 100),
}


@dataclass(frozen=True)
class Join:
    """Leave ``stage`` once every part of ``parts`` is done, then send ``then`` (per window if it is)."""

    stage: Stage  # the stage the join leaves
    parts: tuple[Part, ...]  # markers that must all be present
    then: str  # task sent by the one caller that moved the stage
    label: str  # stage named in an internal error message
    progress: float = 0.0  # progress within the next stage once moved


@dataclass(frozen=True)
class Step:
    """One pipeline task: the function it runs, where it works, what it writes and what follows it."""

    task: str  # Celery task name
    function: str  # "<module>.<function>" in monitoring.services.pipeline
    stages: tuple[Stage, ...]  # stages it works in; a redelivered copy found past them resumes instead
    label: str  # stage named in an internal error message
    part: Part | None = None  # the marker it writes when done
    needs: tuple[Part, ...] = ()  # markers that must exist before it runs
    per_window: bool = False  # one task per window of the grid (args: analysis id, window index)
    window_output: str = ""  # per window: "<module>.<function>" (inputs, index) -> its output file
    then: tuple[str | Join, ...] = ()  # sent, in order, when the function returns a true value


CLASSIFY_JOIN = Join(Stage.RELABEL, (Part.MODEL,), "analysis.classify_window", "classify", progress=0.1)
FINALIZE_JOIN = Join(
    Stage.CHANGE, (Part.CHANGE, Part.ESD_PRODUCTS, Part.ATTRIBUTION), "analysis.finalize", "change"
)
L, R, C, X, F = Stage.LOOKUP, Stage.RELABEL, Stage.CLASSIFY, Stage.CHANGE, Stage.FINALIZE
STEPS: tuple[Step, ...] = (
    Step("analysis.start", "lookup.lookup_start", (L,), "lookup", then=("analysis.relabel", "analysis.lookup_window")),
    Step("analysis.lookup_window", "lookup.lookup_window", (L,), "lookup", per_window=True, window_output="lookup.window_path", then=("analysis.esd_products", CLASSIFY_JOIN)),
    Step("analysis.relabel", "relabel.relabel", (L, R), "relabel", Part.RELABEL, then=("analysis.classify_prepare", "analysis.attribute")),
    Step("analysis.classify_prepare", "classify.classify_prepare", (L, R), "classify", Part.MODEL, (Part.RELABEL,), then=(CLASSIFY_JOIN,)),
    Step("analysis.attribute", "attribute.attribute", (L, R, C, X), "attribution", Part.ATTRIBUTION, (Part.RELABEL,), then=(FINALIZE_JOIN,)),
    Step("analysis.esd_products", "esd_products.write_esd_products", (R, C, X), "change", Part.ESD_PRODUCTS, then=(FINALIZE_JOIN,)),
    Step("analysis.classify_window", "classify.classify_window", (C,), "classify", per_window=True, window_output="classify.window_output", then=("analysis.change",)),
    Step("analysis.change", "change.write_products", (X,), "change", Part.CHANGE, then=(FINALIZE_JOIN,)),
    Step("analysis.finalize", "finalize.finalize", (F,), "finalize"),
)  # fmt: skip
STEP: dict[str, Step] = {s.task: s for s in STEPS}


def stages_json() -> list[dict[str, Any]]:
    """The stage line as the map page draws it: ``[{"stage", "label", "span"}]`` (queued and done included)."""
    return [
        {
            "stage": s.value,
            "label": s.label,
            "span": list(STAGE_SPAN.get(s, (0, 0) if s == Stage.QUEUED else (100, 100))),
        }
        for s in STAGE_LINE
    ]
