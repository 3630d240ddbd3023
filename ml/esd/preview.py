"""Coarse copies of ESD tiles for map previews, built once per tile and kept outside the store.

Official ESD tiles are DEFLATE GeoTIFFs with 256 px blocks and no overviews: a preview of a whole
3600 x 3600 px tile at a low zoom would decompress all 13 bands of every block on every request. The
first such request writes a copy decimated by :data:`COPY_FACTOR` (nearest: the centre pixel of each
``factor x factor`` block, never an average of FSQ indices) as one of our COGs, with overviews, into a
cache folder keyed by the tile's URI and fingerprint; later previews at that scale or coarser read the
copy. Tiles that already have overviews are read directly (decimated reads use them).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
from rasterio.crs import CRS
from rasterio.warp import calculate_default_transform
from rasterio.windows import Window

from ml.esd.codec import STEPS
from ml.esd.store import EsdStore
from ml.esd.tiles import EsdTileInfo, open_tile, write_tile

COPY_FACTOR: Final[int] = 4  # tile pixels per copy pixel, each way
STRIP_ROWS: Final[int] = 256  # rows of the tile read at a time while building a copy


def copy_key(tile: EsdTileInfo, factor: int = COPY_FACTOR) -> str:
    """Folder name of a tile's copy: changes when the tile's URI, content fingerprint or the factor do."""
    return hashlib.sha256(f"{tile.uri}|{tile.fingerprint}|{factor}".encode()).hexdigest()[:24]


def coarse_copy(tile: EsdTileInfo, folder: Path, factor: int = COPY_FACTOR) -> EsdTileInfo:
    """The tile itself when it has an overview of ``factor`` or coarser, else its copy decimated by
    ``factor`` (written on the first call, under ``folder``): an :class:`EsdTileInfo` of the same tile
    id, year and CRS, pixels ``factor`` times larger, extent rounded up to whole copy pixels."""
    if _has_overview(tile, factor):
        return tile
    height, width = -(-tile.height // factor), -(-tile.width // factor)
    a, b, c, d, e, f = tile.transform
    path = folder / copy_key(tile, factor) / tile.name
    if not path.exists():
        with _lock(path.parent / ".lock"):
            if not path.exists():
                _write_copy(tile, path.parent, factor, (height, width))
    return replace(
        tile,
        uri=str(path),
        transform=(a * factor, b, c, d, e * factor, f),
        width=width,
        height=height,
        size_bytes=path.stat().st_size,
        fingerprint=f"copy:{copy_key(tile, factor)}",
        block_shape=(256, 256),
    )


def preview_store(store: EsdStore, crs: CRS, resolution: float, folder: Path) -> EsdStore:
    """``store`` with every tile at least :data:`COPY_FACTOR` times finer than ``resolution`` (``crs``
    units) replaced by its coarse copy: what a preview at that resolution reads."""
    tiles = tuple(
        coarse_copy(t, folder) if resolution >= COPY_FACTOR * _resolution_in(t, crs.to_wkt()) else t
        for t in store.tiles
    )
    return EsdStore(tiles=tiles, location=store.location)


@lru_cache(maxsize=4096)
def _resolution_in(tile: EsdTileInfo, crs_wkt: str) -> float:
    """The tile's pixel size in units of ``crs_wkt`` (GDAL's default warp resolution)."""
    crs = CRS.from_wkt(crs_wkt)
    if tile.crs == crs:
        return tile.resolution
    t, _, _ = calculate_default_transform(tile.crs, crs, tile.width, tile.height, *tile.bounds)
    return float(min(abs(t.a), abs(t.e)))


@lru_cache(maxsize=4096)
def _has_overview(tile: EsdTileInfo, factor: int) -> bool:
    with open_tile(tile.uri) as src:
        return any(f >= factor for f in src.overviews(1))


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (one process builds a copy; the others wait for it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_copy(tile: EsdTileInfo, folder: Path, factor: int, shape: tuple[int, int]) -> Path:
    """Read the tile in strips of :data:`STRIP_ROWS` rows, keep the centre pixel of each block of
    ``factor x factor``, write the copy with :func:`write_tile` (one strip and the copy in memory)."""
    height, width = shape
    rows = np.minimum(np.arange(height) * factor + factor // 2, tile.height - 1)
    cols = np.minimum(np.arange(width) * factor + factor // 2, tile.width - 1)
    out = np.zeros((STEPS + 1, height, width), dtype=np.uint16)
    with open_tile(tile.uri) as src:
        for r0 in range(0, tile.height, STRIP_ROWS):
            r1 = min(r0 + STRIP_ROWS, tile.height)
            take = np.flatnonzero((rows >= r0) & (rows < r1))
            if take.size == 0:
                continue
            strip = src.read(window=Window(0, r0, tile.width, r1 - r0))
            out[:, take] = strip[:, rows[take] - r0][:, :, cols]
    valid: np.ndarray = np.bitwise_or.reduce(out[:STEPS], axis=0) != 0
    a, b, c, d, e, f = tile.transform
    return write_tile(
        folder,
        tile.tile_id,
        tile.year,
        out[:STEPS],
        out[STEPS],
        valid,
        tile.crs,
        (a * factor, b, c, d, e * factor, f),
        tags={"ESD_COPY_OF": tile.uri, "ESD_COPY_FACTOR": str(factor)},
    )
