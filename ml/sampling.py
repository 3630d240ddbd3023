"""Label geometries to pixel samples on a grid, and read windows pasted into the grid's windows.

A point label is one sample at its own coordinates; a polygon label becomes the centres of the grid
pixels inside it (at most ``max_polygon_pixels``, a seeded choice), or its representative point when
it covers no pixel centre. All coordinates in and out are lon/lat (EPSG:4326).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from affine import Affine
from rasterio.features import geometry_mask
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_geom
from rasterio.windows import from_bounds
from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry

from ml.grid import Grid, Window


@dataclass(frozen=True)
class SamplePoints:
    """Pixel samples of labels: sample ``i`` belongs to label ``label_pk[i]`` and sits at ``(lon[i], lat[i])``."""

    label_pk: np.ndarray  # (S,) int64 label id of each sample, labels in input order
    lon: np.ndarray  # (S,) float64 longitude (EPSG:4326)
    lat: np.ndarray  # (S,) float64 latitude (EPSG:4326)


def label_sample_points(
    labels: Sequence[tuple[int, BaseGeometry]], grid: Grid, max_polygon_pixels: int, seed: int = 0
) -> SamplePoints:
    """One sample per point label, up to ``max_polygon_pixels`` pixel centres of ``grid`` per polygon.

    ``labels`` are ``(label id, lon/lat geometry)``; one random generator seeded with ``seed`` picks
    the pixels of every large polygon in turn, so the samples depend only on the inputs.
    """
    rng = np.random.default_rng(seed)
    pks: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    for pk, shp in labels:
        if isinstance(shp, Point):
            pks.append(pk)
            lons.append(shp.x)
            lats.append(shp.y)
            continue
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
        if rows.size == 0:  # polygon smaller than a pixel: its representative point
            c = shp.representative_point()
            pks.append(pk)
            lons.append(c.x)
            lats.append(c.y)
            continue
        if rows.size > max_polygon_pixels:
            pick = rng.choice(rows.size, max_polygon_pixels, replace=False)
            rows, cols = rows[pick], cols[pick]
        x, y = cast(Any, t) * (cols + 0.5, rows + 0.5)  # affine's stub types * on floats only
        lon, lat = warp_transform(grid.crs, "EPSG:4326", list(np.atleast_1d(x)), list(np.atleast_1d(y)))
        pks.extend([pk] * len(lon))
        lons.extend(lon)
        lats.extend(lat)
    return SamplePoints(np.asarray(pks, dtype=np.int64), np.asarray(lons), np.asarray(lats))


def _rings(geom: dict[str, Any]) -> list[Any]:
    """The coordinate rings of a GeoJSON-like Polygon or MultiPolygon."""
    if geom["type"] == "Polygon":
        return list(geom["coordinates"])
    return [ring for poly in geom["coordinates"] for ring in poly]


def paste_window(
    src_idx: np.ndarray,
    src_valid: np.ndarray,
    src_transform: Affine,
    grid: Grid,
    w: Window,
    dst_idx: np.ndarray,
    dst_valid: np.ndarray,
) -> None:
    """Copy a store read into window ``w``'s arrays in place, aligned by transform.

    ``src_idx (Y, 12, h, w)`` / ``src_valid (Y, h, w)`` with ``src_transform`` (a store read may snap a
    pixel wider than the window); ``dst_idx (Y, 12, H, W)`` / ``dst_valid (Y, H, W)`` of the window.
    Pixels outside the window are dropped, window pixels the read does not cover are left as they are.
    """
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
