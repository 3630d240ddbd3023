"""Similar pixels: the AOI's pixels ranked by cosine similarity of their embedding to one clicked pixel.

A service, not a selector: the first ask of a pixel and year computes the answer and writes it.

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
from typing import Any, Final, cast

import numpy as np
from affine import Affine
from rasterio.warp import transform as warp_transform

from ml.atomic import write_bytes_atomic
from ml.cog import write_value_cog
from ml.errors import MLError
from ml.esd.codec import indices_to_codes
from ml.grid import Grid, Window
from ml.sampling import paste_window
from monitoring.errors import ApplicationError
from monitoring.models import Analysis
from monitoring.services.pipeline.lookup import window_path
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import analysis_dir, load_npz

MAX_PIXELS: Final[int] = 20_000  # pixels listed in the answer (the most similar first)
MAX_GRID_PX: Final[int] = 4_000_000  # larger AOI grids are refused: the request would take too long
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
    indices = np.zeros((1, 12, w.height, w.width), dtype=np.uint16)
    valid = np.zeros((1, w.height, w.width), dtype=bool)
    mask = grid.aoi_mask(inputs.aoi_geometry, w)
    if not mask.any():
        return indices[0], valid[0]
    try:
        res = inputs.store.read_window(
            grid.window_bbox(w), grid.crs, [inputs.years[year_pos]], grid.resolution
        )
    except MLError:
        return indices[0], valid[0]
    paste_window(res.indices, res.valid, res.transform, grid, w, indices, valid)
    return indices[0], valid[0] & mask


def _pixel_of(grid: Grid, lon: float, lat: float) -> tuple[int, int]:
    xs, ys = warp_transform("EPSG:4326", grid.crs, [lon], [lat])
    col, row = ~grid.affine @ (xs[0], ys[0])
    return int(np.floor(row)), int(np.floor(col))


def _window_of(grid: Grid, row: int, col: int) -> Window:
    return next(
        w
        for w in grid.windows()
        if w.row_off <= row < w.row_off + w.height and w.col_off <= col < w.col_off + w.width
    )


def _cosine(indices: np.ndarray, valid: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(h, w) float32 cosine of each valid pixel's 72-dim code vector with unit vector ``ref``; NaN elsewhere."""
    rows, cols = np.nonzero(valid)
    out = np.full(valid.shape, np.nan, dtype=np.float32)
    if rows.size == 0:
        return out
    codes = indices_to_codes(indices[:, rows, cols])  # (12, N, 6)
    vec = codes.transpose(1, 0, 2).reshape(-1, 72)  # (N, 72): months x codes per pixel
    norm = np.linalg.norm(vec, axis=1)
    sim = np.full(rows.shape, np.nan, dtype=np.float32)
    ok = norm > 0
    sim[ok] = np.clip(vec[ok] @ ref / norm[ok], -1.0, 1.0)
    out[rows, cols] = sim
    return out


def similarity_raster(*, analysis: Analysis, lon: float, lat: float, year: int) -> SimilarityRaster:
    """Cosine similarity of each AOI pixel's 72-dim embedding (12 months x 6 codes) of ``year`` to the
    embedding of the pixel containing ``(lon, lat)``; 400 when that pixel is outside the AOI or has no
    data in ``year``, or when the grid exceeds :data:`MAX_GRID_PX`. Works window by window (memory
    bounded by one window's codes plus the float32 result)."""
    if year not in analysis.years:
        raise ApplicationError(f"year {year} is not one of the analysis years {analysis.years}")
    inputs = AnalysisInputs(analysis)
    grid = inputs.grid
    if grid.width * grid.height > MAX_GRID_PX:
        raise ApplicationError(
            f"the AOI grid has {grid.width} x {grid.height} pixels; similar pixels work on AOIs up to "
            f"{MAX_GRID_PX:,} pixels: draw a smaller AOI"
        )
    row, col = _pixel_of(grid, lon, lat)
    if not (0 <= row < grid.height and 0 <= col < grid.width):
        raise ApplicationError(f"({lon:.5f}, {lat:.5f}) is outside the AOI of analysis {analysis.pk}")
    year_pos = analysis.years.index(year)
    home = _window_of(grid, row, col)
    home_indices, home_valid = _year_indices(inputs, home, year_pos)
    r, c = row - home.row_off, col - home.col_off
    ref = indices_to_codes(home_indices[:, r, c]).reshape(72)  # (72,) months x codes
    if not home_valid[r, c] or not np.linalg.norm(ref) > 0:
        raise ApplicationError(
            f"the pixel at ({lon:.5f}, {lat:.5f}) has no ESD data in {year} or lies outside the AOI"
        )
    ref = ref / np.linalg.norm(ref)
    values = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    for w in grid.windows():
        indices, valid = (home_indices, home_valid) if w == home else _year_indices(inputs, w, year_pos)
        values[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] = _cosine(
            indices, valid, ref
        )
    return SimilarityRaster(values=values, transform=grid.affine, crs_wkt=grid.crs_wkt, row=row, col=col)


def _pixel_centres_lonlat(raster: SimilarityRaster, rows: np.ndarray, cols: np.ndarray) -> tuple[list, list]:
    xs, ys = cast(Any, raster.transform) @ (cols + 0.5, rows + 0.5)  # affine's stub: floats only
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
    ref = int(np.flatnonzero((rows == raster.row) & (cols == raster.col))[0])
    keep = np.flatnonzero(np.arange(rows.size) != ref)
    if keep.size > MAX_PIXELS - 1:  # only the best need sorting
        keep = keep[np.argpartition(-sims[keep], MAX_PIXELS - 1)[: MAX_PIXELS - 1]]
    ranked = keep[
        np.lexsort((cols[keep], rows[keep], -sims[keep]))
    ]  # most similar first, ties in raster order
    order = np.concatenate([[ref], ranked])  # the reference pixel itself first
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
