"""Stage 3, classify: a classifier trained on the dynamic samples maps every pixel-year (per window).

Each window keeps the per-class probabilities of every pixel-year (``probs``), which the temporal
step (:mod:`monitoring.services.pipeline.temporal`) turns into consistent maps.

The classifier is trained as soon as relabel is done (it needs only the label pixels), while the
windows may still be looked up; the windows are classified once both are there (:func:`classify_join`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from ml.esd.codec import indices_to_codes
from ml.mapping import (
    NODATA_CLASS,
    MapperConfig,
    features,
    fit_mapper,
    load_mapper,
    predict_proba_window,
    save_mapper,
)
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline import state, timing
from monitoring.services.pipeline.agreement import write_reference_agreement
from monitoring.services.pipeline.lookup import features_path, labels_path, window_path
from monitoring.services.pipeline.relabel import relabel_path
from monitoring.services.pipeline.steps import STEP as STEPS
from monitoring.services.pipeline.steps import Part, Stage
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import cache_dir, load_npz, save_npz


def classify_dir(inputs: AnalysisInputs) -> Path:
    return cache_dir("classify", inputs.classify_key)


def window_output(inputs: AnalysisInputs, index: int) -> Path:
    """``classes (Y, h, w) uint8`` of one window (255: no data)."""
    return classify_dir(inputs) / f"w{index:05d}.npz"


STEP = STEPS["analysis.classify_prepare"]


def mapper_config(inputs: AnalysisInputs) -> MapperConfig:
    extra = inputs.analysis.parameters.get("classifier") or {}
    allowed = {k: v for k, v in extra.items() if k in MapperConfig.__dataclass_fields__ and k != "seed"}
    return MapperConfig(seed=int(inputs.analysis.parameters.get("seed", 0)), **allowed)


def training_set(inputs: AnalysisInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x (n, 72), y (n,) class index, groups (n,) label pk, years (n,)) from the dynamic sample pixels."""
    dyn = load_npz(relabel_path(inputs))
    lab = load_npz(labels_path(inputs))
    names = inputs.class_names
    index = {n: i for i, n in enumerate(names)}
    klass = dyn["klass"]
    ok = (klass != "") & dyn["valid"] & np.isin(klass, names)
    s, y = np.nonzero(ok)
    codes = indices_to_codes(lab["indices"][s, y])  # (n, 12, 6)
    target = np.array([index[c] for c in klass[s, y]], dtype=np.int64)
    return features(codes), target, dyn["label_pk"][s], dyn["years"][y]


def model_path(inputs: AnalysisInputs) -> Path:
    """The fitted map classifier as plain arrays (:func:`ml.mapping.save_mapper`, no pickle)."""
    return classify_dir(inputs) / "model.npz"


def classify_prepare(analysis_id: int) -> bool:
    """Train the map classifier and measure its agreement with the labels; True once the model is there."""
    analysis = state.current(analysis_id, *STEP.stages)
    if analysis is None or not all(state.is_done(analysis_id, p) for p in STEP.needs):
        return False
    inputs = AnalysisInputs(analysis)
    folder = classify_dir(inputs)
    if not model_path(inputs).exists():
        with timing.timed(analysis_id, "classify"):
            x, y, _, _ = training_set(inputs)
            if np.unique(y).size < 2:
                raise ApplicationError(
                    "the dynamic samples hold fewer than 2 classes: add labels of another class"
                )
            model = fit_mapper(x, y, mapper_config(inputs))
            save_mapper(model_path(inputs), model)
    else:
        timing.record_timing(analysis_id, "classify", 0.0, reused=True)
    with timing.timed(analysis_id, "classify"):
        accuracy_dict = write_reference_agreement(inputs, mapper_config(inputs), folder)
    stats = dict(Analysis.objects.get(pk=analysis_id).stats or {})
    stats["accuracy"] = accuracy_dict
    Analysis.objects.filter(pk=analysis_id).update(stats=stats)
    state.mark_done(analysis_id, Part.MODEL)
    return True


def classify_window(analysis_id: int, index: int) -> bool:
    """Classify one window for every year; True when this call finished the stage."""
    analysis = state.current(analysis_id, Stage.CLASSIFY)
    if analysis is None:
        return False
    state.check_cancel(analysis_id)
    inputs = AnalysisInputs(analysis)
    windows = inputs.grid.windows()
    out = window_output(inputs, index)
    if not out.exists():
        with timing.timed(analysis_id, "classify"):
            model = load_mapper(model_path(inputs))
            data = load_npz(window_path(inputs, index))
            valid = data["valid"]
            codes = np.moveaxis(
                indices_to_codes(data["indices"]), -1, 2
            )  # (Y, 12, H, W, 6) -> (Y, 12, 6, H, W)
            probs = predict_proba_window(model, codes, valid, len(inputs.class_names))  # (Y, C, H, W)
            top = np.nan_to_num(probs, nan=-1.0).argmax(axis=1)
            classes = np.where(valid, top, NODATA_CLASS).astype(np.uint8)  # each year on its own
            save_npz(out, classes=classes, probs=probs)
    done = sum(window_output(inputs, w.index).exists() for w in windows)
    state.set_progress(analysis_id, Stage.CLASSIFY, 0.1 + 0.9 * done / len(windows))
    state.set_step(analysis_id, Stage.CLASSIFY, "windows", done, len(windows))
    if done < len(windows):
        return False
    return state.advance(analysis_id, Stage.CLASSIFY)


def mosaic(
    inputs: AnalysisInputs, name: str, shape_tail: tuple[int, ...], dtype: npt.DTypeLike, fill: float
) -> np.ndarray:
    """Assemble one array of every window into the full grid, ``(*shape_tail, H, W)``.

    ``classes`` (each year's own most probable class) and ``probs`` (per-class probabilities) come from
    the classify windows, ``similarity`` and ``preview`` from the lookup windows.
    """
    grid = inputs.grid
    full = np.full((*shape_tail, grid.height, grid.width), fill, dtype=dtype)
    for w in grid.windows():
        in_classify = name in ("classes", "probs")
        path = window_output(inputs, w.index) if in_classify else features_path(inputs, w.index)
        with np.load(path, allow_pickle=False) as data:
            part = data[name]
        full[..., w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] = part
    return full
