"""Stage 1, lookup: ESD indices of the label pixels and of the AOI, one task per window.

A window task also derives what the embeddings alone give (the similarity of consecutive years and
the ESD preview), so those products can be written while TasGen still runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from django.utils import timezone
from shapely import wkb

from ml.change import consecutive_similarity, esd_preview_rgb
from ml.errors import MLError
from ml.esd.codec import indices_to_codes
from ml.sampling import SamplePoints, paste_window
from ml.sampling import label_sample_points as sample_points
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline import state, timing
from monitoring.services.pipeline.steps import Stage
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import cache_dir, load_npz, save_npz

logger = logging.getLogger(__name__)
MAX_POLYGON_PIXELS = 64  # pixels sampled from one polygon label (seeded), each a sample of that label


def lookup_dir(inputs: AnalysisInputs) -> Path:
    return cache_dir("lookup", inputs.lookup_key)


def labels_path(inputs: AnalysisInputs) -> Path:
    return cache_dir("labels", inputs.labels_key) / "labels.npz"


def window_path(inputs: AnalysisInputs, index: int) -> Path:
    """``indices (Y, 12, h, w) uint16``, ``valid (Y, h, w)`` of one window (written last: its marker)."""
    return lookup_dir(inputs) / f"w{index:05d}.npz"


def features_path(inputs: AnalysisInputs, index: int) -> Path:
    """``similarity (Y-1, h, w) float16`` and ``preview (Y, 4, h, w) uint8`` of one window."""
    return lookup_dir(inputs) / f"f{index:05d}.npz"


def window_features(indices: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Similarity of consecutive years and ESD preview RGBA of one window's indices."""
    codes = np.moveaxis(indices_to_codes(indices), -1, 2)  # (Y, 12, H, W, 6) -> (Y, 12, 6, H, W)
    similarity = consecutive_similarity(codes, valid)
    preview = np.stack([esd_preview_rgb(codes[y], valid[y]) for y in range(codes.shape[0])])
    return {"similarity": similarity.astype(np.float16), "preview": preview}


def label_sample_points(inputs: AnalysisInputs) -> SamplePoints:
    """The label pixel samples of an analysis: one per point label, pixel centres for polygons."""
    labels = [(label.pk, wkb.loads(bytes(label.geometry.wkb))) for label in inputs.labels]
    return sample_points(labels, inputs.grid, MAX_POLYGON_PIXELS, seed=0)


def lookup_start(analysis_id: int) -> list[int]:
    """Begin the analysis: grid, label-pixel lookup (what relabel needs); returns the window indices."""
    analysis = state.current(analysis_id, Stage.LOOKUP)
    if analysis is None:
        return []
    Analysis.objects.filter(pk=analysis_id, status=Analysis.Status.QUEUED).update(
        status=Analysis.Status.RUNNING, stage=Analysis.Stage.LOOKUP, started_at=timezone.now()
    )
    inputs = AnalysisInputs(Analysis.objects.get(pk=analysis_id))
    if not inputs.labels:
        raise ApplicationError("the label set has no labels")
    with timing.timed(analysis_id, "lookup"):
        path = labels_path(inputs)
        if not path.exists():
            samples = label_sample_points(inputs)
            state.set_step(analysis_id, Stage.LOOKUP, f"label points ({len(samples.lon)})", 0, 1)
            try:
                points = inputs.store.read_points(samples.lon, samples.lat, inputs.years)
            except MLError as exc:
                raise ApplicationError(
                    f"no ESD data for the labels in {inputs.years[0]}-{inputs.years[-1]}: {exc}"
                ) from exc
            save_npz(
                path,
                label_pk=samples.label_pk,
                lon=samples.lon,
                lat=samples.lat,
                indices=points.indices,
                valid=points.valid,
                years=np.asarray(inputs.years),
            )
        else:
            timing.record_timing(analysis_id, "lookup", 0.0, reused=True)
    windows = inputs.grid.windows()
    state.set_step(analysis_id, Stage.LOOKUP, "windows", 0, len(windows))
    return [w.index for w in windows]


def lookup_window(analysis_id: int, index: int) -> bool:
    """Look up one window of the AOI (skipped when its file exists); True when this call ended the stage."""
    analysis = state.current(analysis_id, Stage.LOOKUP)
    if analysis is None:
        return False
    state.check_cancel(analysis_id)
    inputs = AnalysisInputs(analysis)
    grid = inputs.grid
    windows = grid.windows()
    w = windows[index]
    path = window_path(inputs, index)
    if not path.exists():
        with timing.timed(analysis_id, "lookup"):
            mask = grid.aoi_mask(inputs.aoi_geometry, w)
            indices = np.zeros((len(inputs.years), 12, w.height, w.width), dtype=np.uint16)
            valid = np.zeros((len(inputs.years), w.height, w.width), dtype=bool)
            if mask.any():
                try:
                    result = inputs.store.read_window(
                        grid.window_bbox(w), grid.crs, inputs.years, grid.resolution
                    )
                except MLError as exc:
                    logger.info("window %s of analysis %s has no coverage: %s", index, analysis_id, exc)
                else:
                    paste_window(result.indices, result.valid, result.transform, grid, w, indices, valid)
            valid &= mask[None]
            save_npz(features_path(inputs, index), **window_features(indices, valid))
            save_npz(path, indices=indices, valid=valid)
    done = sum(window_path(inputs, x.index).exists() for x in windows)
    state.set_progress(analysis_id, Stage.LOOKUP, done / len(windows))
    state.set_step(analysis_id, Stage.LOOKUP, "windows", done, len(windows))
    if done < len(windows):
        return False
    any_valid = any(load_npz(window_path(inputs, x.index))["valid"].any() for x in windows)
    if not any_valid:
        raise ApplicationError("the ESD store has no data inside the AOI for the chosen years")
    return state.advance(analysis_id, Stage.LOOKUP)
