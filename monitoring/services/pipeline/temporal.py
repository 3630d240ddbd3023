"""Stage 4a, consistent maps: spatial smoothing and the temporal HMM over the classified probabilities.

The classify windows keep each pixel-year's class probabilities; this step mosaics them a band of
rows at a time (:func:`~ml.temporal.make_consistent_strips`), smooths
each year's probabilities over a small neighbourhood (:mod:`ml.smoothing`, off by default), and picks
each pixel's most probable class sequence with a transition matrix estimated from the analysis's own
dynamic samples mixed with a prior that favours staying (:mod:`ml.temporal`, on by default). The land-cover, change and
uncertainty products and the statistics are all built from its output. The result is cached under
``MEDIA_ROOT/cache/temporal/<key>/`` (the key adds the two parameter objects to the classify key).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ml.mapping import NODATA_CLASS
from ml.smoothing import SmoothingConfig
from ml.temporal import (
    TemporalConfig,
    changed_by_step,
    class_series,
    estimate_transitions,
    make_consistent_strips,
)
from monitoring.services.pipeline.mosaic import mosaic_part
from monitoring.services.pipeline.relabel import relabel_path
from monitoring.storage.inputs import AnalysisInputs, _hash
from monitoring.storage.paths import cache_dir, load_npz, save_npz

TEMPORAL_KEYS = frozenset(TemporalConfig.__dataclass_fields__)
SMOOTHING_KEYS = frozenset(SmoothingConfig.__dataclass_fields__)


def temporal_config(parameters: dict[str, Any]) -> TemporalConfig:
    """``parameters["temporal"]`` (validated by the API) over the defaults of :class:`TemporalConfig`."""
    extra = {k: v for k, v in (parameters.get("temporal") or {}).items() if k in TEMPORAL_KEYS}
    return TemporalConfig(**extra)


def smoothing_config(parameters: dict[str, Any]) -> SmoothingConfig:
    """``parameters["smoothing"]`` over the defaults of :class:`SmoothingConfig`."""
    extra = {k: v for k, v in (parameters.get("smoothing") or {}).items() if k in SMOOTHING_KEYS}
    return SmoothingConfig(**extra)


def consistent_path(inputs: AnalysisInputs) -> Path:
    """``classes``, ``raw``, ``uncertainty`` ``(Y, H, W)`` and ``transitions``, ``changed`` ``(C, C)``."""
    params = inputs.analysis.parameters
    key = _hash(
        "temporal",
        inputs.classify_key,
        asdict(temporal_config(params)),
        asdict(smoothing_config(params)),
    )
    return cache_dir("temporal", key) / "consistent.npz"


def sample_transitions(inputs: AnalysisInputs, config: TemporalConfig) -> np.ndarray:
    """``(C, C)`` transition matrix from the analysis's dynamic samples (TasGen's classes per year)."""
    dyn = load_npz(relabel_path(inputs))
    series = class_series(np.where(dyn["valid"], dyn["klass"], ""), inputs.class_names)
    return estimate_transitions(
        series,
        len(inputs.class_names),
        config.switch_odds,
        config.prior_share,
        confidence=dyn.get("confidence"),
        min_confidence=config.min_confidence,
    )


def consistent_maps(inputs: AnalysisInputs) -> dict[str, np.ndarray]:
    """The consistent maps of an analysis (computed once, then read from the cache).

    ``raw``: each year's own most probable class; ``classes``: after smoothing and the HMM (both
    uint8 ``(Y, H, W)``, :data:`NODATA_CLASS` outside the AOI or without data); ``uncertainty``:
    float16 normalised entropy of the final per-year probabilities (0 sure .. 1 uniform, NaN without
    data); ``transitions``: the matrix used; ``changed``: pixel-years the step moved, from raw class
    (row) to consistent class (column).
    """
    path = consistent_path(inputs)
    if path.exists():
        return load_npz(path)
    params = inputs.analysis.parameters
    temporal, smoothing = temporal_config(params), smoothing_config(params)
    n_classes, n_years = len(inputs.class_names), len(inputs.years)
    grid = inputs.grid
    inside = grid.aoi_mask(inputs.aoi_geometry)
    transitions = sample_transitions(inputs, temporal)

    def read_rows(lo: int, hi: int) -> np.ndarray:
        return mosaic_part(inputs, "probs", (n_years, n_classes), np.float16, np.nan, rows=(lo, hi))

    raw, out = make_consistent_strips(read_rows, inside, n_years, transitions, temporal, smoothing)
    classes, uncertainty = out.classes, out.uncertainty
    result = {
        "raw": raw,
        "classes": classes,
        "uncertainty": uncertainty,
        "transitions": transitions,
        "changed": changed_by_step(raw, classes, n_classes),
    }
    save_npz(path, **result)
    return result


def temporal_statistics(inputs: AnalysisInputs, maps: dict[str, np.ndarray]) -> dict[str, Any]:
    """JSON-ready summary of the step (``stats["temporal"]``): settings, matrix, pixel-years moved."""
    params = inputs.analysis.parameters
    raw, classes = maps["raw"], maps["classes"]
    observed = int((raw != NODATA_CLASS).sum())
    moved = maps["changed"]
    return {
        "temporal": asdict(temporal_config(params)),
        "smoothing": asdict(smoothing_config(params)),
        "classes": list(inputs.class_names),
        "transition_probabilities": np.round(maps["transitions"], 4).tolist(),
        "changed_pixel_years": moved.astype(int).tolist(),  # rows: class before, columns: after
        "changed_total": int(moved.sum()),
        "pixel_years": observed,
        "changes_before": int(_count_changes(raw)),
        "changes_after": int(_count_changes(classes)),
    }


def _count_changes(classes: np.ndarray) -> int:
    """Number of year-to-year class changes over all pixels (pairs with a nodata year not counted)."""
    a, b = classes[:-1], classes[1:]
    return int(((a != b) & (a != NODATA_CLASS) & (b != NODATA_CLASS)).sum())
