"""The analysis grid: the store's native pixel grid over the AOI, split into windows."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import geometry_mask
from rasterio.warp import transform_bounds, transform_geom
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from ml.esd.tiles import EsdTileInfo
from monitoring.errors import ApplicationError

WINDOW_PX = 256  # window side in pixels: one lookup/classify task each
MAX_GRID_PX = 25_000_000  # refuse AOIs whose grid exceeds this many pixels (per year)


@dataclass(frozen=True)
class Window:
    """A block of the grid: ``rows``/``cols`` offsets and size in pixels."""

    index: int
    row_off: int
    col_off: int
    height: int
    width: int


@dataclass(frozen=True)
class Grid:
    """North-up grid in ``crs_wkt`` with square pixels; ``transform`` maps (col, row) to the pixel corner."""

    crs_wkt: str
    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int
    window_px: int = WINDOW_PX

    @property
    def crs(self) -> CRS:
        return CRS.from_wkt(self.crs_wkt)

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform)

    @property
    def resolution(self) -> float:
        return abs(self.transform[0])

    def windows(self) -> list[Window]:
        out = []
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
        return self.affine * Affine.translation(w.col_off, w.row_off)

    def window_bbox(self, w: Window) -> tuple[float, float, float, float]:
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
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)


def grid_for_aoi(geometry: BaseGeometry, tiles: list[EsdTileInfo], window_px: int = WINDOW_PX) -> Grid:
    """The grid of the tile CRS most represented among ``tiles``, snapped to that tile's pixels."""
    if not tiles:
        raise ApplicationError("the AOI is outside the ESD store's coverage for the chosen years")
    by_crs: dict[str, list[EsdTileInfo]] = {}
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
        raise ApplicationError(
            f"the AOI covers {width} x {height} pixels at {res:g} m, more than {MAX_GRID_PX:,} per year; draw a smaller AOI"
        )
    transform = (res, 0.0, c0 + col0 * res, 0.0, -res, f0 - row0 * res)
    return Grid(crs_wkt=ref.crs_wkt, transform=transform, width=width, height=height, window_px=window_px)
