"""Stage 1, lookup: ESD indices of the label pixels and of the AOI, one task per window.

A window task also derives what the embeddings alone give (the similarity of consecutive years and
the ESD preview), so those products can be written while TasGen still runs.
"""

from __future__ import annotations

import logging

import numpy as np
from django.utils import timezone
from rasterio.features import geometry_mask
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_geom
from rasterio.windows import from_bounds
from shapely.geometry import mapping

from ml.change import consecutive_similarity, esd_preview_rgb
from ml.errors import MLError
from ml.esd.codec import indices_to_codes
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline import state
from monitoring.services.pipeline.grid import Grid
from monitoring.services.pipeline.inputs import AnalysisInputs
from monitoring.services.pipeline.paths import cache_dir, load_npz, save_npz

logger = logging.getLogger(__name__)
MAX_POLYGON_PIXELS = 64  # pixels sampled from one polygon label (seeded), each a sample of that label


def lookup_dir(inputs: AnalysisInputs):  # type: ignore[no-untyped-def]
    return cache_dir("lookup", inputs.lookup_key)


def labels_path(inputs: AnalysisInputs):  # type: ignore[no-untyped-def]
    return cache_dir("labels", inputs.labels_key) / "labels.npz"


def window_path(inputs: AnalysisInputs, index: int):  # type: ignore[no-untyped-def]
    """``indices (Y, 12, h, w) uint16``, ``valid (Y, h, w)`` of one window (written last: its marker)."""
    return lookup_dir(inputs) / f"w{index:05d}.npz"


def features_path(inputs: AnalysisInputs, index: int):  # type: ignore[no-untyped-def]
    """``similarity (Y-1, h, w) float16`` and ``preview (Y, 4, h, w) uint8`` of one window."""
    return lookup_dir(inputs) / f"f{index:05d}.npz"


def window_features(indices: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Similarity of consecutive years and ESD preview RGBA of one window's indices."""
    codes = np.moveaxis(indices_to_codes(indices), -1, 2)  # (Y, 12, H, W, 6) -> (Y, 12, 6, H, W)
    similarity = consecutive_similarity(codes, valid)
    preview = np.stack([esd_preview_rgb(codes[y], valid[y]) for y in range(codes.shape[0])])
    return {"similarity": similarity.astype(np.float16), "preview": preview}


def label_sample_points(inputs: AnalysisInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(label_pk (S,), lon (S,), lat (S,)): one sample per point label, pixel centres for polygons."""
    grid: Grid = inputs.grid
    rng = np.random.default_rng(0)
    pks: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    for label in inputs.labels:
        geom = label.geometry
        if geom.geom_type == "Point":
            pks.append(label.pk)
            lons.append(geom.x)
            lats.append(geom.y)
            continue
        from shapely import wkb

        shp = wkb.loads(bytes(geom.wkb))
        local = transform_geom("EPSG:4326", grid.crs, mapping(shp))
        xs = [c[0] for ring in _rings(local) for c in ring]
        ys = [c[1] for ring in _rings(local) for c in ring]
        win = (
            from_bounds(min(xs), min(ys), max(xs), max(ys), transform=grid.affine)
            .round_offsets()
            .round_lengths()
        )
        h, w = max(1, int(win.height) + 1), max(1, int(win.width) + 1)
        t = grid.affine * grid.affine.translation(int(win.col_off), int(win.row_off))
        inside = ~geometry_mask([local], out_shape=(h, w), transform=t, all_touched=False)
        rows, cols = np.nonzero(inside)
        if rows.size == 0:  # polygon smaller than a pixel: its centroid pixel
            c = shp.representative_point()
            pks.append(label.pk)
            lons.append(c.x)
            lats.append(c.y)
            continue
        if rows.size > MAX_POLYGON_PIXELS:
            pick = rng.choice(rows.size, MAX_POLYGON_PIXELS, replace=False)
            rows, cols = rows[pick], cols[pick]
        x, y = t * (cols + 0.5, rows + 0.5)
        lon, lat = warp_transform(grid.crs, "EPSG:4326", list(np.atleast_1d(x)), list(np.atleast_1d(y)))
        pks.extend([label.pk] * len(lon))
        lons.extend(lon)
        lats.extend(lat)
    return np.asarray(pks, dtype=np.int64), np.asarray(lons), np.asarray(lats)


def _rings(geom: dict) -> list:
    if geom["type"] == "Polygon":
        return geom["coordinates"]
    return [ring for poly in geom["coordinates"] for ring in poly]


def lookup_start(analysis_id: int) -> list[int]:
    """Begin the analysis: grid, label-pixel lookup (what relabel needs); returns the window indices."""
    analysis = state.current(analysis_id, "lookup")
    if analysis is None:
        return []
    Analysis.objects.filter(pk=analysis_id, status=Analysis.Status.QUEUED).update(
        status=Analysis.Status.RUNNING, stage=Analysis.Stage.LOOKUP, started_at=timezone.now()
    )
    inputs = AnalysisInputs(Analysis.objects.get(pk=analysis_id))
    if not inputs.labels:
        raise ApplicationError("the label set has no labels")
    with state.timed(analysis_id, "lookup"):
        path = labels_path(inputs)
        if not path.exists():
            pks, lon, lat = label_sample_points(inputs)
            try:
                points = inputs.store.read_points(lon, lat, inputs.years)
            except MLError as exc:
                raise ApplicationError(
                    f"no ESD data for the labels in {inputs.years[0]}-{inputs.years[-1]}: {exc}"
                ) from exc
            save_npz(
                path,
                label_pk=pks,
                lon=lon,
                lat=lat,
                indices=points.indices,
                valid=points.valid,
                years=np.asarray(inputs.years),
            )
        else:
            state.record_timing(analysis_id, "lookup", 0.0, reused=True)
    windows = inputs.grid.windows()
    return [w.index for w in windows]


def lookup_window(analysis_id: int, index: int) -> bool:
    """Look up one window of the AOI (skipped when its file exists); True when this call ended the stage."""
    analysis = state.current(analysis_id, "lookup")
    if analysis is None:
        return False
    state.check_cancel(analysis_id)
    inputs = AnalysisInputs(analysis)
    grid = inputs.grid
    windows = grid.windows()
    w = windows[index]
    path = window_path(inputs, index)
    if not path.exists():
        with state.timed(analysis_id, "lookup"):
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
                    _paste(result.indices, result.valid, result.transform, grid, w, indices, valid)
            valid &= mask[None]
            save_npz(features_path(inputs, index), **window_features(indices, valid))
            save_npz(path, indices=indices, valid=valid)
    done = sum(window_path(inputs, x.index).exists() for x in windows)
    state.set_progress(analysis_id, "lookup", done / len(windows))
    if done < len(windows):
        return False
    any_valid = any(load_npz(window_path(inputs, x.index))["valid"].any() for x in windows)
    if not any_valid:
        raise ApplicationError("the ESD store has no data inside the AOI for the chosen years")
    return state.advance(analysis_id, "lookup")


def _paste(src_idx, src_valid, src_transform, grid: Grid, w, dst_idx, dst_valid) -> None:  # type: ignore[no-untyped-def]
    """Copy a read window into the window arrays, aligning by transform (reads may snap a pixel wider)."""
    wt = grid.window_transform(w)
    dc = int(round((src_transform.c - wt.c) / wt.a))
    dr = int(round((src_transform.f - wt.f) / wt.e))
    h, wd = src_valid.shape[1:]
    r0, c0 = max(0, dr), max(0, dc)
    r1, c1 = min(w.height, dr + h), min(w.width, dc + wd)
    if r1 <= r0 or c1 <= c0:
        return
    dst_idx[:, :, r0:r1, c0:c1] = src_idx[:, :, r0 - dr : r1 - dr, c0 - dc : c1 - dc]
    dst_valid[:, r0:r1, c0:c1] = src_valid[:, r0 - dr : r1 - dr, c0 - dc : c1 - dc]
