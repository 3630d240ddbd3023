"""Similar pixels: the AOI's pixels ranked by cosine similarity of their embedding to one clicked pixel.

Embeddings come from the analysis' cached lookup windows (``MEDIA_ROOT/cache/lookup/<key>/w*.npz``, the
FSQ indices of every AOI pixel-year on the analysis grid); a window whose file is gone is read from the
store again. The similarity raster is kept as a small float32 COG (NaN = no data or outside the AOI)
under ``MEDIA_ROOT/analyses/<id>/similar/<token>.tif`` next to the JSON answer, so asking again for the
same pixel and year reads two files.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from affine import Affine
from rasterio.warp import transform as warp_transform

from ml.errors import MLError
from ml.esd.codec import indices_to_codes
from ml.maps import write_value_cog
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline.grid import Grid, Window
from monitoring.services.pipeline.inputs import AnalysisInputs
from monitoring.services.pipeline.lookup import window_path
from monitoring.services.pipeline.paths import analysis_dir, load_npz, write_bytes_atomic

MAX_PIXELS: Final[int] = 20_000  # pixels listed in the answer (the most similar first)
DEFAULT_THRESHOLD: Final[float] = 0.8  # threshold of the heat-layer URL the answer gives
TOKEN_RE: Final = re.compile(r"^[0-9a-f]{24}$")
SIMILAR_VERSION: Final[str] = "1"  # part of the token: bump when the method or answer changes


@dataclass(frozen=True)
class SimilarityRaster:
    """Cosine similarity of every grid pixel to the reference pixel, for one year.

    ``values``: ``(H, W)`` float32 in [-1, 1] on the analysis grid (``transform``, ``crs_wkt``); NaN where
    the pixel has no embedding that year or lies outside the AOI. ``row``/``col``: the reference pixel.
    """

    values: np.ndarray
    transform: Affine
    crs_wkt: str
    row: int
    col: int


def similar_dir(analysis_id: int) -> Path:
    return analysis_dir(analysis_id) / "similar"


def similar_cog_path(analysis_id: int, token: str) -> Path:
    """The COG of one similarity answer; :class:`ApplicationError` 404 for a malformed token."""
    if not TOKEN_RE.match(token):
        raise ApplicationError(f"unknown similarity token {token!r}", status=404)
    return similar_dir(analysis_id) / f"{token}.tif"


def _year_indices(inputs: AnalysisInputs, w: Window, year_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices (12, h, w) uint16, valid (h, w) bool)`` of one window and year (cached file or store)."""
    path = window_path(inputs, w.index)
    if path.exists():
        data = load_npz(path)
        return data["indices"][year_pos], data["valid"][year_pos]
    grid = inputs.grid
    indices = np.zeros((12, w.height, w.width), dtype=np.uint16)
    valid = np.zeros((w.height, w.width), dtype=bool)
    mask = grid.aoi_mask(inputs.aoi_geometry, w)
    if not mask.any():
        return indices, valid
    try:
        res = inputs.store.read_window(
            grid.window_bbox(w), grid.crs, [inputs.years[year_pos]], grid.resolution
        )
    except MLError:
        return indices, valid
    wt = grid.window_transform(w)
    dc = int(round((res.transform.c - wt.c) / wt.a))
    dr = int(round((res.transform.f - wt.f) / wt.e))
    h, wd = res.valid.shape[1:]
    r0, c0 = max(0, dr), max(0, dc)
    r1, c1 = min(w.height, dr + h), min(w.width, dc + wd)
    if r1 > r0 and c1 > c0:
        indices[:, r0:r1, c0:c1] = res.indices[0, :, r0 - dr : r1 - dr, c0 - dc : c1 - dc]
        valid[r0:r1, c0:c1] = res.valid[0, r0 - dr : r1 - dr, c0 - dc : c1 - dc]
    return indices, valid & mask


def _grid_indices(inputs: AnalysisInputs, year_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices (12, H, W) uint16, valid (H, W) bool)`` of the whole grid for one year."""
    grid: Grid = inputs.grid
    indices = np.zeros((12, grid.height, grid.width), dtype=np.uint16)
    valid = np.zeros((grid.height, grid.width), dtype=bool)
    for w in grid.windows():
        idx, val = _year_indices(inputs, w, year_pos)
        rows = slice(w.row_off, w.row_off + w.height)
        cols = slice(w.col_off, w.col_off + w.width)
        indices[:, rows, cols] = idx
        valid[rows, cols] = val
    return indices, valid


def _pixel_of(grid: Grid, lon: float, lat: float) -> tuple[int, int]:
    xs, ys = warp_transform("EPSG:4326", grid.crs, [lon], [lat])
    col, row = ~grid.affine @ (xs[0], ys[0])
    return int(np.floor(row)), int(np.floor(col))


def similarity_raster(*, analysis: Analysis, lon: float, lat: float, year: int) -> SimilarityRaster:
    """Cosine similarity of each AOI pixel's 72-dim embedding (12 months x 6 codes) of ``year`` to the
    embedding of the pixel containing ``(lon, lat)``; 400 when that pixel is outside the AOI or has no
    data in ``year``."""
    if year not in analysis.years:
        raise ApplicationError(f"year {year} is not one of the analysis years {analysis.years}")
    inputs = AnalysisInputs(analysis)
    grid = inputs.grid
    row, col = _pixel_of(grid, lon, lat)
    if not (0 <= row < grid.height and 0 <= col < grid.width):
        raise ApplicationError(f"({lon:.5f}, {lat:.5f}) is outside the AOI of analysis {analysis.pk}")
    indices, valid = _grid_indices(inputs, analysis.years.index(year))
    if not valid[row, col]:
        raise ApplicationError(
            f"the pixel at ({lon:.5f}, {lat:.5f}) has no ESD data in {year} or lies outside the AOI"
        )
    ref = indices_to_codes(indices[:, row, col]).reshape(72)  # (72,)
    ref = ref / np.linalg.norm(ref)
    rows, cols = np.nonzero(valid)
    codes = indices_to_codes(indices[:, rows, cols])  # (12, N, 6)
    vec = codes.transpose(1, 0, 2).reshape(-1, 72)  # (N, 72): months x codes per pixel
    norm = np.linalg.norm(vec, axis=1)
    sim = np.full(rows.shape, np.nan, dtype=np.float32)
    ok = norm > 0
    sim[ok] = np.clip(vec[ok] @ ref / norm[ok], -1.0, 1.0)
    values = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    values[rows, cols] = sim
    return SimilarityRaster(values=values, transform=grid.affine, crs_wkt=grid.crs_wkt, row=row, col=col)


def _pixel_centres_lonlat(raster: SimilarityRaster, rows: np.ndarray, cols: np.ndarray) -> tuple[list, list]:
    xs, ys = raster.transform @ (cols + 0.5, rows + 0.5)
    lon, lat = warp_transform(raster.crs_wkt, "EPSG:4326", list(np.atleast_1d(xs)), list(np.atleast_1d(ys)))
    return list(lon), list(lat)


def similar_pixels(*, analysis: Analysis, lon: float, lat: float, year: int) -> dict[str, Any]:
    """``{"year", "reference": {"lon", "lat"}, "count", "pixels": [{"lon", "lat", "similarity"}], "token"}``.

    ``reference`` is the centre of the clicked pixel; ``pixels`` are the AOI pixels with data in ``year``
    (pixel centres, degrees), most similar first (the reference itself first, similarity 1), at most
    :data:`MAX_PIXELS`; ``count`` is how many there are in all. ``token`` names the similarity COG
    (:func:`similar_cog_path`) that the heat-layer tiles draw. Computed once per pixel and year, then
    read from ``MEDIA_ROOT/analyses/<id>/similar/``.
    """
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ApplicationError("lon must be in [-180, 180] and lat in [-90, 90]")
    inputs = AnalysisInputs(analysis)
    row, col = _pixel_of(inputs.grid, lon, lat)
    key = f"{SIMILAR_VERSION}|{inputs.lookup_key}|{year}|{row}|{col}"
    token = hashlib.sha256(key.encode()).hexdigest()[:24]
    answer_path = similar_dir(analysis.pk) / f"{token}.json"
    if answer_path.is_file() and similar_cog_path(analysis.pk, token).is_file():
        return json.loads(answer_path.read_text())
    raster = similarity_raster(analysis=analysis, lon=lon, lat=lat, year=year)
    rows, cols = np.nonzero(np.isfinite(raster.values))
    sims = raster.values[rows, cols]
    order = np.lexsort((cols, rows, -sims))  # most similar first, ties in raster order
    is_ref = (rows[order] == raster.row) & (cols[order] == raster.col)
    order = np.concatenate([order[is_ref], order[~is_ref]])[:MAX_PIXELS]  # the reference itself first
    plon, plat = _pixel_centres_lonlat(raster, rows[order], cols[order])
    rlon, rlat = _pixel_centres_lonlat(raster, np.array([raster.row]), np.array([raster.col]))
    answer = {
        "year": year,
        "reference": {"lon": round(rlon[0], 7), "lat": round(rlat[0], 7)},
        "count": int(rows.size),
        "pixels": [
            {"lon": round(x, 7), "lat": round(y, 7), "similarity": round(float(s), 4)}
            for x, y, s in zip(plon, plat, sims[order].tolist(), strict=True)
        ],
        "token": token,
    }
    write_value_cog(
        similar_cog_path(analysis.pk, token),
        raster.values,
        raster.crs_wkt,
        raster.transform,
        np.nan,
        overview_resampling="average",
        description=f"cosine similarity to pixel ({raster.row}, {raster.col}) in {year}",
    )
    write_bytes_atomic(answer_path, json.dumps(answer).encode())
    return answer
