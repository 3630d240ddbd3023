"""Stage 3, classify: a classifier trained on the dynamic samples maps every pixel-year (per window).

Each window keeps the per-class probabilities of every pixel-year (``probs``), which the temporal
step (:mod:`monitoring.services.pipeline.temporal`) turns into consistent maps.

The classifier is trained as soon as relabel is done (it needs only the label pixels), while the
windows may still be looked up; the windows are classified once both are there (:func:`classify_join`).
"""

from __future__ import annotations

import pickle

import numpy as np

from ml.esd.codec import indices_to_codes
from ml.mapping import NODATA_CLASS, MapperConfig, features, fit_mapper, predict_proba_window
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline import state
from monitoring.services.pipeline.agreement import write_reference_agreement
from monitoring.services.pipeline.inputs import AnalysisInputs
from monitoring.services.pipeline.lookup import features_path, labels_path, window_path
from monitoring.services.pipeline.paths import cache_dir, load_npz, save_npz, write_bytes_atomic
from monitoring.services.pipeline.relabel import RELABEL_STAGES, relabel_path


def classify_dir(inputs: AnalysisInputs):  # type: ignore[no-untyped-def]
    return cache_dir("classify", inputs.classify_key)


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


def model_path(inputs: AnalysisInputs):  # type: ignore[no-untyped-def]
    return classify_dir(inputs) / "model.pkl"


def classify_prepare(analysis_id: int) -> bool:
    """Train the map classifier and measure its agreement with the labels; True once the model is there."""
    analysis = state.current(analysis_id, *RELABEL_STAGES)
    if analysis is None or not state.is_done(analysis_id, "relabel"):
        return False
    inputs = AnalysisInputs(analysis)
    folder = classify_dir(inputs)
    if not model_path(inputs).exists():
        with state.timed(analysis_id, "classify"):
            x, y, _, _ = training_set(inputs)
            if np.unique(y).size < 2:
                raise ApplicationError(
                    "the dynamic samples hold fewer than 2 classes: add labels of another class"
                )
            model = fit_mapper(x, y, mapper_config(inputs))
            write_bytes_atomic(model_path(inputs), pickle.dumps(model))
    else:
        state.record_timing(analysis_id, "classify", 0.0, reused=True)
    with state.timed(analysis_id, "classify"):
        accuracy_dict = write_reference_agreement(inputs, mapper_config(inputs), folder)
    stats = dict(Analysis.objects.get(pk=analysis_id).stats or {})
    stats["accuracy"] = accuracy_dict
    Analysis.objects.filter(pk=analysis_id).update(stats=stats)
    state.mark_done(analysis_id, "model")
    return True


def classify_join(analysis_id: int) -> list[int]:
    """Start the classify stage once the windows are looked up and the model is trained.

    Called by the last lookup window (after it moved the stage to relabel) and by
    :func:`classify_prepare` (after its ``model`` marker); returns the windows to classify to the one caller that moved the stage, else [].
    """
    analysis = state.current(analysis_id, "relabel")
    if analysis is None or not state.join(analysis_id, "relabel", ("model",)):
        return []
    state.set_progress(analysis_id, "classify", 0.1)
    return [w.index for w in AnalysisInputs(analysis).grid.windows()]


def classify_window(analysis_id: int, index: int) -> bool:
    """Classify one window for every year; True when this call finished the stage."""
    analysis = state.current(analysis_id, "classify")
    if analysis is None:
        return False
    state.check_cancel(analysis_id)
    inputs = AnalysisInputs(analysis)
    windows = inputs.grid.windows()
    out = classify_dir(inputs) / f"w{index:05d}.npz"
    if not out.exists():
        with state.timed(analysis_id, "classify"):
            model = pickle.loads(model_path(inputs).read_bytes())
            data = load_npz(window_path(inputs, index))
            valid = data["valid"]
            codes = np.moveaxis(
                indices_to_codes(data["indices"]), -1, 2
            )  # (Y, 12, H, W, 6) -> (Y, 12, 6, H, W)
            probs = predict_proba_window(model, codes, valid, len(inputs.class_names))  # (Y, C, H, W)
            top = np.nan_to_num(probs, nan=-1.0).argmax(axis=1)
            classes = np.where(valid, top, NODATA_CLASS).astype(np.uint8)  # each year on its own
            save_npz(out, classes=classes, probs=probs)
    done = sum((classify_dir(inputs) / f"w{w.index:05d}.npz").exists() for w in windows)
    state.set_progress(analysis_id, "classify", 0.1 + 0.9 * done / len(windows))
    if done < len(windows):
        return False
    return state.advance(analysis_id, "classify")


def mosaic(inputs: AnalysisInputs, name: str, shape_tail: tuple[int, ...], dtype, fill) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Assemble one array of every window into the full grid, ``(*shape_tail, H, W)``.

    ``classes`` (each year's own most probable class) and ``probs`` (per-class probabilities) come from
    the classify windows, ``similarity`` and ``preview`` from the lookup windows.
    """
    grid = inputs.grid
    full = np.full((*shape_tail, grid.height, grid.width), fill, dtype=dtype)
    for w in grid.windows():
        path = (
            classify_dir(inputs) / f"w{w.index:05d}.npz"
            if name in ("classes", "probs")
            else features_path(inputs, w.index)
        )
        with np.load(path, allow_pickle=False) as data:
            part = data[name]
        full[..., w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] = part
    return full
