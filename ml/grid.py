"""Pixel grids: north-up rasters with square pixels, their windows, and the grids snapped to a tile's pixels.

One definition of "a CRS, an affine transform and a size" for the whole project: an ESD tile
(:class:`ml.esd.tiles.EsdTileInfo`), the grid a store read fills (:func:`snap_grid`) and the analysis
grid over an AOI (:func:`grid_for_aoi`, split into :class:`Window` s of one task each) share
:class:`GridGeometry`. ``transform`` is ``(a, b, c, d, e, f)``: it maps pixel ``(col, row)`` to the
CRS coordinates of the pixel's upper-left corner; ``a`` is the pixel width, ``e = -a`` (north-up).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Final

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import geometry_mask
from rasterio.warp import transform_bounds, transform_geom
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from ml.atomic import write_text_atomic
from ml.errors import GridError

BBox = tuple[float, float, float, float]  # (left, bottom, right, top)
Transform6 = tuple[float, float, float, float, float, float]  # (a, b, c, d, e, f) of an Affine

WINDOW_PX: Final[int] = 256  # window side in pixels: one lookup/classify task each
MAX_GRID_PX: Final[int] = 25_000_000  # refuse AOIs whose grid exceeds this many pixels (per year)


class GridGeometry:
    """What a class with ``crs_wkt``, ``transform`` (6 floats), ``width`` and ``height`` can derive."""

    crs_wkt: str
    transform: Transform6
    width: int
    height: int

    @cached_property
    def crs(self) -> CRS:
        """The grid's CRS."""
        return CRS.from_wkt(self.crs_wkt)

    @property
    def affine(self) -> Affine:
        """The transform as an ``Affine``."""
        return Affine(*self.transform)

    @property
    def resolution(self) -> float:
        """Pixel width in CRS units (square pixels)."""
        return abs(self.transform[0])

    @property
    def bounds(self) -> BBox:
        """``(left, bottom, right, top)`` in the grid's CRS."""
        a, _, c, _, e, f = self.transform
        xs = (c, c + a * self.width)
        ys = (f, f + e * self.height)
        return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class Window:
    """A block of a grid: offsets and size in pixels, ``index`` its position in :meth:`Grid.windows`."""

    index: int
    row_off: int
    col_off: int
    height: int
    width: int


@dataclass(frozen=True)
class Grid(GridGeometry):
    """A north-up grid in ``crs_wkt`` with square pixels, cut into windows of ``window_px`` pixels."""

    crs_wkt: str
    transform: Transform6
    width: int
    height: int
    window_px: int = WINDOW_PX

    def windows(self) -> list[Window]:
        """The windows row by row, left to right; edge windows are smaller."""
        out: list[Window] = []
        for r in range(0, self.height, self.window_px):
            for c in range(0, self.width, self.window_px):
                out.append(
                    Window(
                        len(out),
                        r,
                        c,
                        min(self.window_px, self.height - r),
                        min(self.window_px, self.width - c),
                    )
                )
        return out

    def window_transform(self, w: Window) -> Affine:
        """The affine of window ``w`` (its upper-left pixel corner)."""
        return self.affine * Affine.translation(w.col_off, w.row_off)

    def window_bbox(self, w: Window) -> BBox:
        """``(left, bottom, right, top)`` of window ``w`` in the grid's CRS."""
        t = self.window_transform(w)
        return (t.c, t.f + t.e * w.height, t.c + t.a * w.width, t.f)

    def aoi_mask(self, geometry: BaseGeometry, w: Window | None = None) -> np.ndarray:
        """(H, W) bool: True for pixels whose centre lies inside the AOI (EPSG:4326 geometry)."""
        geom = transform_geom("EPSG:4326", self.crs, mapping(geometry))
        if w is None:
            return ~geometry_mask([geom], out_shape=(self.height, self.width), transform=self.affine)
        return ~geometry_mask([geom], out_shape=(w.height, w.width), transform=self.window_transform(w))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Grid:
        data = json.loads(text)
        data["transform"] = tuple(data["transform"])
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write :meth:`to_json` atomically."""
        write_text_atomic(path, self.to_json())


def snap_grid(bbox: BBox, res: float, crs: CRS, tiles: Sequence[GridGeometry]) -> Grid:
    """North-up grid over ``bbox`` at ``res``; snapped outward to a tile's pixel grid when one shares
    the CRS and resolution, so its pixels are copied without resampling."""
    left, bottom, right, top = bbox
    for t in tiles:
        if (
            t.crs == crs
            and math.isclose(t.resolution, res, rel_tol=1e-9)
            and t.transform[4] == -t.transform[0]
        ):
            x0, y0 = t.transform[2], t.transform[5]
            eps = 1e-6
            left = x0 + math.floor((left - x0) / res + eps) * res
            right = x0 + math.ceil((right - x0) / res - eps) * res
            top = y0 - math.floor((y0 - top) / res + eps) * res
            bottom = y0 - math.ceil((y0 - bottom) / res - eps) * res
            break
    width = max(1, math.ceil((right - left) / res - 1e-6))
    height = max(1, math.ceil((top - bottom) / res - 1e-6))
    grid = Grid(crs_wkt=crs.to_wkt(), transform=(res, 0.0, left, 0.0, -res, top), width=width, height=height)
    grid.__dict__["crs"] = crs  # the caller's CRS object itself (no WKT round trip)
    return grid


def aligned_offsets(tile: GridGeometry, grid: GridGeometry) -> tuple[int, int] | None:
    """Integer ``(col, row)`` of ``grid``'s origin in ``tile``'s pixel grid, or None if not aligned."""
    if tile.crs != grid.crs:
        return None
    ta, ga = tile.affine, grid.affine
    if (
        not (math.isclose(ta.a, ga.a, rel_tol=1e-9) and math.isclose(ta.e, ga.e, rel_tol=1e-9))
        or ta.b
        or ta.d
    ):
        return None
    col, row = (ga.c - ta.c) / ta.a, (ga.f - ta.f) / ta.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return round(col), round(row)


def grid_for_aoi(geometry: BaseGeometry, tiles: Sequence[GridGeometry], window_px: int = WINDOW_PX) -> Grid:
    """The grid of the tile CRS most represented among ``tiles``, snapped to that tile's pixels.

    Raises :class:`GridError` when no tile is given or the grid exceeds :data:`MAX_GRID_PX` pixels.
    """
    if not tiles:
        raise GridError("the AOI is outside the ESD store's coverage for the chosen years")
    by_crs: dict[str, list[GridGeometry]] = {}
    for t in tiles:
        by_crs.setdefault(t.crs_wkt, []).append(t)
    ref = max(by_crs.values(), key=len)[0]
    res = ref.resolution
    west, south, east, north = geometry.bounds
    left, bottom, right, top = transform_bounds(
        "EPSG:4326", ref.crs, west, south, east, north, densify_pts=21
    )
    c0, f0 = ref.transform[2], ref.transform[5]
    col0 = math.floor((left - c0) / res + 1e-6)
    col1 = math.ceil((right - c0) / res - 1e-6)
    row0 = math.floor((f0 - top) / res + 1e-6)
    row1 = math.ceil((f0 - bottom) / res - 1e-6)
    width, height = max(1, col1 - col0), max(1, row1 - row0)
    if width * height > MAX_GRID_PX:
        raise GridError(
            f"the AOI covers {width} x {height} pixels at {res:g} m, more than {MAX_GRID_PX:,} per year; draw a smaller AOI"
        )
    transform = (res, 0.0, c0 + col0 * res, 0.0, -res, f0 - row0 * res)
    return Grid(crs_wkt=ref.crs_wkt, transform=transform, width=width, height=height, window_px=window_px)
