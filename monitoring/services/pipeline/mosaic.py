"""Parts of the window arrays assembled on the analysis grid: a band of rows, a range of years.

The whole-grid stages (temporal step, COGs) read the per-window arrays of the lookup and classify
caches through here, a part at a time, so a full MGRS tile x 25 years is never held at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitoring.services.pipeline.classify import window_output
from monitoring.services.pipeline.lookup import features_path
from monitoring.storage.inputs import AnalysisInputs

PART_BYTES = 512 * 2**20  # at most this much of one array per part (years of a whole-grid product)
CLASSIFY_ARRAYS = frozenset({"classes", "probs"})  # in the classify windows; the others in the lookup ones


def mosaic_part(
    inputs: AnalysisInputs,
    name: str,
    shape_tail: tuple[int, ...],
    dtype: npt.DTypeLike,
    fill: float,
    *,
    rows: tuple[int, int] | None = None,
    lead: range | None = None,
) -> np.ndarray:
    """Grid rows ``rows = (top, bottom)`` (default all) of one window array, ``(*shape_tail, bottom - top, W)``.

    ``lead`` selects along the first axis of the array (e.g. a range of years) before it is pasted;
    ``shape_tail`` is the shape after that selection. ``classes`` (each year's own most probable
    class) and ``probs`` (per-class probabilities) come from the classify windows, ``similarity`` and
    ``preview`` from the lookup windows. Pixels no window covers hold ``fill``.
    """
    grid = inputs.grid
    top, bottom = rows if rows is not None else (0, grid.height)
    full = np.full((*shape_tail, bottom - top, grid.width), fill, dtype=dtype)
    for w in grid.windows():
        lo, hi = max(top, w.row_off), min(bottom, w.row_off + w.height)
        if lo >= hi:
            continue
        path = window_output(inputs, w.index) if name in CLASSIFY_ARRAYS else features_path(inputs, w.index)
        with np.load(path, allow_pickle=False) as data:
            part = data[name]
        if lead is not None:
            part = part[lead.start : lead.stop]
        full[..., lo - top : hi - top, w.col_off : w.col_off + w.width] = part[
            ..., lo - w.row_off : hi - w.row_off, :
        ]
    return full


def year_parts(n_years: int, bytes_per_year: int) -> list[range]:
    """Consecutive ranges of ``n_years`` years of at most :data:`PART_BYTES` each (at least one year)."""
    step = max(1, PART_BYTES // max(1, bytes_per_year))
    return [range(lo, min(n_years, lo + step)) for lo in range(0, n_years, step)]
