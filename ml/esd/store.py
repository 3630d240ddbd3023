"""ESD store: a folder or URL prefix of ESD tiles, indexed by footprint, CRS and year, for window and point lookups.

A store is a local folder (path or ``file://``) that is scanned for tiles, or an ``http(s)://`` prefix
that holds a ``catalog.json`` written by ``python -m ml.esd.store catalog FOLDER`` (remote stores need no
directory listing); tiles are then read through GDAL's HTTP range requests. Lookups read only the
windows they need, mosaic tiles of several CRSs (nearest resampling of indices, never averaging), and
decode indices to embeddings with the codec table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import calculate_default_transform, reproject, transform_bounds
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

from ml.atomic import write_text_atomic
from ml.errors import NoCoverageError, StoreError, TileError
from ml.esd.codec import STEPS, decode_steps, indices_to_codes
from ml.esd.tiles import (
    BANDS,
    EsdTileInfo,
    gdal_env,
    gdal_path,
    is_remote,
    local_path,
    read_tile_info,
)
from ml.grid import BBox, Grid, aligned_offsets, snap_grid

CATALOG_NAME: Final[str] = "catalog.json"
CATALOG_FORMAT: Final[str] = "esd-store-catalog/1"
WGS84: Final[CRS] = CRS.from_epsg(4326)
PointStrategy = Literal["block", "window", "pixel"]


@dataclass(frozen=True)
class WindowResult:
    """Embeddings of every pixel-year of a window on one grid (``crs``, ``transform``, ``H x W`` pixels).

    ``valid[y, r, c]`` is True where a tile of year ``years[y]`` covers the pixel and holds data there;
    elsewhere ``indices`` and ``qa`` are 0 and ``embeddings`` is 0. ``embeddings`` is decoded on first
    access (callers that need only indices never pay for it).
    """

    indices: np.ndarray  # (Y, 12, H, W) uint16 FSQ index per monthly step
    valid: np.ndarray  # (Y, H, W) bool
    qa: np.ndarray  # (Y, H, W) uint16 clear-observation count
    transform: Affine  # upper-left pixel corner, in crs units
    crs: CRS
    years: tuple[int, ...]  # (Y,)

    @cached_property
    def embeddings(self) -> np.ndarray:
        """(Y, 12, 6, H, W) float32 FSQ codes in [-1, 1]; 0 where not ``valid``."""
        out = decode_steps(self.indices)
        for y in range(out.shape[0]):
            invalid = ~self.valid[y]
            if invalid.any():
                out[y][:, :, invalid] = 0.0
        return out

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` in pixels."""
        return int(self.valid.shape[1]), int(self.valid.shape[2])

    @property
    def bounds(self) -> BBox:
        """``(left, bottom, right, top)`` of the grid in ``crs``."""
        h, w = self.shape
        left, top = self.transform.c, self.transform.f
        return (left, top + self.transform.e * h, left + self.transform.a * w, top)


@dataclass(frozen=True)
class PointsResult:
    """Embeddings of points (lon/lat) in each year: the pixel of the first tile containing the point.

    ``valid[p, y]`` is False where no tile of ``years[y]`` covers point ``p`` or the pixel is nodata; there
    ``indices``, ``qa`` and ``embeddings`` are 0.
    """

    indices: np.ndarray  # (P, Y, 12) uint16
    valid: np.ndarray  # (P, Y) bool
    qa: np.ndarray  # (P, Y) uint16
    years: tuple[int, ...]  # (Y,)

    @cached_property
    def embeddings(self) -> np.ndarray:
        """(P, Y, 12, 6) float32 codes; 0 where not ``valid``."""
        return indices_to_codes(self.indices) * self.valid[..., None, None]


def _intersects(a: BBox, b: BBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _join(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}"


def list_tile_uris(location: str | Path) -> list[str]:
    """URIs of the candidate tile files of a store: ``*.tif``/``*.tiff`` of a folder (sorted), or the names in
    an http(s) store's ``catalog.json``. Raises :class:`StoreError` if the location cannot be listed."""
    loc = str(location)
    if is_remote(loc):
        return [rec["uri"] for rec in _fetch_catalog(loc)]
    folder = local_path(loc)
    if not folder.is_dir():
        raise StoreError(f"{loc}: not a folder")
    return [
        str(p.resolve())
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in {".tif", ".tiff"}
    ]


def _catalog_url(location: str) -> tuple[str, str]:
    """``(prefix, catalog URL)`` for a store URL given as the prefix or as the catalog file itself."""
    if location.split("?", 1)[0].endswith(".json"):
        return location.rsplit("/", 1)[0], location
    return location.rstrip("/"), _join(location, CATALOG_NAME)


def _fetch_catalog(location: str) -> list[dict[str, Any]]:
    prefix, url = _catalog_url(location)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            doc = json.loads(resp.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{url}: cannot read the store catalog ({exc})") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("format") != CATALOG_FORMAT
        or not isinstance(doc.get("tiles"), list)
    ):
        raise StoreError(f"{url}: not an ESD store catalog (format {CATALOG_FORMAT!r} with a 'tiles' list)")
    records = []
    for rec in doc["tiles"]:
        rec = dict(rec)
        rec["uri"] = _join(prefix, rec["name"])
        records.append(rec)
    return records


def scan(
    location: str | Path, *, check_data: bool = False
) -> tuple[list[EsdTileInfo], list[tuple[str, str]]]:
    """Read the metadata of every tile of a store.

    Returns ``(tiles, rejected)``: ``rejected`` lists ``(uri, reason)`` of files that are not valid ESD
    tiles (bad name, not a GeoTIFF, wrong bands/dtype, corrupt); scanning goes on past them. For an http(s)
    store the grid comes from ``catalog.json`` and no tile is opened.
    """
    loc = str(location)
    if is_remote(loc):
        tiles, rejected = [], []
        for rec in _fetch_catalog(loc):
            try:
                tiles.append(EsdTileInfo.from_record(rec))
            except TileError as exc:
                rejected.append((rec.get("uri", "?"), str(exc)))
        return tiles, rejected
    tiles, rejected = [], []
    for uri in list_tile_uris(loc):
        try:
            tiles.append(read_tile_info(uri, check_data=check_data))
        except TileError as exc:
            rejected.append((uri, str(exc)))
    return tiles, rejected


def write_catalog(folder: str | Path) -> tuple[Path, list[tuple[str, str]]]:
    """Write ``catalog.json`` (tile names + grid metadata) into a folder of tiles, so the folder can be served
    over http(s) as a store. Returns ``(path, rejected files with reasons)``."""
    folder = local_path(str(folder))
    tiles, rejected = scan(folder, check_data=True)
    records = []
    for t in tiles:
        rec = t.to_record()
        rec["name"] = Path(t.uri).name
        del rec["uri"]
        records.append(rec)
    path = folder / CATALOG_NAME
    write_text_atomic(path, json.dumps({"format": CATALOG_FORMAT, "tiles": records}, indent=1))
    return path, rejected


@dataclass
class EsdStore:
    """A set of ESD tiles (any CRSs, any years) answering window and point lookups.

    Build it with :meth:`open` (folder or URL) or :meth:`from_tiles` (catalog rows, e.g. from a spatial
    query). Tiles are tried in order (same CRS as the request first, then by tile id); where tiles overlap
    the first one holding data wins.
    """

    tiles: tuple[EsdTileInfo, ...]  # every tile of the store
    location: str | None = None  # folder or URL it was opened from
    rejected: tuple[tuple[str, str], ...] = field(default=())  # (uri, reason) of files skipped when opening

    @classmethod
    def open(cls, location: str | Path, *, check_data: bool = False) -> EsdStore:
        """Open a store: scan a folder (path or ``file://``), or read an http(s) prefix's ``catalog.json``.

        Invalid files are skipped and listed in :attr:`rejected`; raises :class:`StoreError` when the
        location cannot be read at all.
        """
        tiles, rejected = scan(location, check_data=check_data)
        return cls(tiles=tuple(tiles), location=str(location), rejected=tuple(rejected))

    @classmethod
    def from_tiles(
        cls, tiles: Iterable[EsdTileInfo | Mapping[str, Any]], location: str | None = None
    ) -> EsdStore:
        """A store of the given tiles (``EsdTileInfo`` or records with its fields, e.g. catalog rows)."""
        infos = tuple(t if isinstance(t, EsdTileInfo) else EsdTileInfo.from_record(t) for t in tiles)
        return cls(tiles=infos, location=location)

    @property
    def years(self) -> tuple[int, ...]:
        """Sorted years that have at least one tile."""
        return tuple(sorted({t.year for t in self.tiles}))

    def _years(self, years: Iterable[int] | None) -> tuple[int, ...]:
        ys = self.years if years is None else tuple(int(y) for y in years)
        if not ys:
            raise StoreError(
                "no years requested" if years is not None else f"store {self.location} has no tiles"
            )
        if len(set(ys)) != len(ys):
            raise StoreError(f"years must be distinct, got {list(ys)}")
        return ys

    def tiles_for(self, lonlat_bounds: BBox, years: Iterable[int]) -> list[EsdTileInfo]:
        """Tiles of ``years`` whose lon/lat footprint box intersects ``(west, south, east, north)``."""
        ys = set(years)
        return [t for t in self.tiles if t.year in ys and _intersects(t.lonlat_bounds, lonlat_bounds)]

    # ------------------------------------------------------------------ windows
    def read_window(
        self,
        bbox: BBox,
        crs: CRS | str | int = "EPSG:4326",
        years: Iterable[int] | None = None,
        resolution: float | None = None,
        *,
        max_pixel_years: int = 20_000_000,
    ) -> WindowResult:
        """Embeddings of every pixel of ``bbox`` (``(left, bottom, right, top)`` in ``crs``) for ``years``.

        The output grid is north-up in ``crs`` with square pixels of ``resolution`` CRS units (default: the
        finest native resolution of the tiles involved, in ``crs`` units). When a tile shares ``crs`` and
        resolution the grid snaps outward to its pixel grid and pixels are copied exactly; other tiles are
        reprojected with nearest resampling of indices. Years (or parts of the window) without a tile come
        back with ``valid`` False. Raises :class:`NoCoverageError` if no tile of any requested year
        intersects the window, :class:`StoreError` for an empty bbox or a window over ``max_pixel_years``.
        """
        dst_crs = CRS.from_user_input(crs)
        left, bottom, right, top = (float(v) for v in bbox)
        if not (left < right and bottom < top):
            raise StoreError(
                f"bbox {bbox} must be (left, bottom, right, top) with left < right, bottom < top"
            )
        ys = self._years(years)
        lonlat = transform_bounds(dst_crs, WGS84, left, bottom, right, top, densify_pts=21)
        cands = [
            t
            for t in self.tiles_for(lonlat, ys)
            if _intersects(_bounds_in(t, dst_crs), (left, bottom, right, top))
        ]
        if not cands:
            raise NoCoverageError(
                f"no tile of the store covers bbox {tuple(bbox)} ({dst_crs.to_string()}) in years {list(ys)}; "
                f"store years: {list(self.years)}"
            )
        cands.sort(key=lambda t: (t.crs != dst_crs, t.tile_id))
        res = float(resolution) if resolution else min(_native_resolution(t, dst_crs) for t in cands)
        if res <= 0:
            raise StoreError(f"resolution must be positive, got {resolution}")
        grid = snap_grid((left, bottom, right, top), res, dst_crs, cands)
        n_years = len(ys)
        if grid.width * grid.height * n_years > max_pixel_years:
            raise StoreError(
                f"window of {grid.width} x {grid.height} px x {n_years} years exceeds {max_pixel_years} pixel-years; "
                "split it or coarsen the resolution"
            )
        indices = np.zeros((n_years, STEPS, grid.height, grid.width), dtype=np.uint16)
        qa = np.zeros((n_years, grid.height, grid.width), dtype=np.uint16)
        valid = np.zeros((n_years, grid.height, grid.width), dtype=bool)
        with gdal_env():
            for tile in cands:
                y = ys.index(tile.year)
                _read_tile_window(tile, grid, indices[y], qa[y], valid[y])
        return WindowResult(indices=indices, valid=valid, qa=qa, transform=grid.affine, crs=dst_crs, years=ys)

    # ------------------------------------------------------------------ points
    def read_points(
        self,
        lon: Sequence[float] | np.ndarray,
        lat: Sequence[float] | np.ndarray,
        years: Iterable[int] | None = None,
        *,
        strategy: PointStrategy = "block",
    ) -> PointsResult:
        """Embeddings of points ``(lon, lat)`` (EPSG:4326 degrees, shape ``(P,)``) in each of ``years``.

        Each point takes the pixel containing it in the first tile of the year that covers it. Reads:
        ``block`` (default) one small window per internal block holding points, ``window`` one window
        per tile spanning all its points, ``pixel`` one 1 x 1 read per point. Raises
        :class:`NoCoverageError` when no point falls in any tile of the requested years.
        """
        lon_a = np.asarray(lon, dtype=np.float64).ravel()
        lat_a = np.asarray(lat, dtype=np.float64).ravel()
        if lon_a.shape != lat_a.shape:
            raise StoreError(f"lon {lon_a.shape} and lat {lat_a.shape} must have the same length")
        if strategy not in ("block", "window", "pixel"):
            raise StoreError(f"unknown point strategy {strategy!r}")
        ys = self._years(years)
        n = lon_a.size
        indices = np.zeros((n, len(ys), STEPS), dtype=np.uint16)
        qa = np.zeros((n, len(ys)), dtype=np.uint16)
        valid = np.zeros((n, len(ys)), dtype=bool)
        result = PointsResult(indices=indices, valid=valid, qa=qa, years=ys)
        if n == 0:
            return result
        box = (float(lon_a.min()), float(lat_a.min()), float(lon_a.max()), float(lat_a.max()))
        box = (box[0] - 1e-9, box[1] - 1e-9, box[2] + 1e-9, box[3] + 1e-9)
        cands = sorted(self.tiles_for(box, ys), key=lambda t: (t.epsg or 0, t.tile_id))
        projected: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        covered = False
        with gdal_env():
            for tile in cands:
                w, s, e, nn = tile.lonlat_bounds
                near = (lon_a >= w) & (lon_a <= e) & (lat_a >= s) & (lat_a <= nn)
                y = ys.index(tile.year)
                todo = np.flatnonzero(near & ~valid[:, y])
                if todo.size == 0:
                    continue
                if tile.crs_wkt not in projected:
                    x, yy = warp_transform(WGS84, tile.crs, lon_a.tolist(), lat_a.tolist())
                    projected[tile.crs_wkt] = (np.asarray(x), np.asarray(yy))
                x, yy = projected[tile.crs_wkt]
                col_f, row_f = ~tile.affine @ (x[todo], yy[todo])
                col, row = np.floor(col_f).astype(np.int64), np.floor(row_f).astype(np.int64)
                inside = (col >= 0) & (col < tile.width) & (row >= 0) & (row < tile.height)
                if not inside.any():
                    continue
                covered = True
                todo, col, row = todo[inside], col[inside], row[inside]
                values = _read_pixels(tile, row, col, strategy)  # (13, k)
                ok = _has_data(values[:STEPS])
                sel = todo[ok]
                indices[sel, y] = values[:STEPS, ok].T
                qa[sel, y] = values[STEPS, ok]
                valid[sel, y] = True
        if not covered:
            raise NoCoverageError(
                f"none of the {n} points (lon {box[0]:.5f}..{box[2]:.5f}, lat {box[1]:.5f}..{box[3]:.5f}) "
                f"falls in a tile of years {list(ys)}; store years: {list(self.years)}"
            )
        return result

    def summary(self) -> dict[str, Any]:
        """JSON-ready overview: tiles per year, CRSs, lon/lat extent, rejected files."""
        by_year: dict[int, list[str]] = {}
        for t in self.tiles:
            by_year.setdefault(t.year, []).append(t.tile_id)
        ext = None
        if self.tiles:
            b = np.array([t.lonlat_bounds for t in self.tiles])
            ext = [float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())]
        return {
            "location": self.location,
            "tiles": len(self.tiles),
            "years": {str(y): sorted(v) for y, v in sorted(by_year.items())},
            "crs": sorted({t.crs.to_string() for t in self.tiles}),
            "lonlat_bounds": ext,
            "size_bytes": int(sum(t.size_bytes for t in self.tiles)),
            "rejected": [{"uri": u, "reason": r} for u, r in self.rejected],
        }


# ---------------------------------------------------------------------- helpers
def _bounds_in(tile: EsdTileInfo, crs: CRS) -> BBox:
    if tile.crs == crs:
        return tile.bounds
    return transform_bounds(tile.crs, crs, *tile.bounds, densify_pts=21)


def _native_resolution(tile: EsdTileInfo, crs: CRS) -> float:
    """The tile's pixel size expressed in ``crs`` units (GDAL's default warp resolution)."""
    if tile.crs == crs:
        return tile.resolution
    t, _, _ = calculate_default_transform(tile.crs, crs, tile.width, tile.height, *tile.bounds)
    return float(min(abs(t.a), abs(t.e)))


def _open(tile: EsdTileInfo) -> rasterio.io.DatasetReader:
    try:
        return rasterio.open(gdal_path(tile.uri))
    except (RasterioError, OSError) as exc:
        raise StoreError(f"{tile.uri}: cannot open tile ({exc})") from exc


def _read_tile_window(
    tile: EsdTileInfo, grid: Grid, indices: np.ndarray, qa: np.ndarray, valid: np.ndarray
) -> None:
    """Fill the still-invalid pixels of one year's output (``indices`` (12, H, W), ``qa``, ``valid``) from one
    tile, reading only the window of the tile that the grid needs."""
    offsets = aligned_offsets(tile, grid)
    try:
        with _open(tile) as src:
            if src.count != BANDS:
                raise StoreError(f"{tile.uri}: has {src.count} bands, expected {BANDS}")
            if offsets is not None:
                col0, row0 = offsets
                c0, r0 = max(col0, 0), max(row0, 0)
                c1, r1 = min(col0 + grid.width, tile.width), min(row0 + grid.height, tile.height)
                if c1 <= c0 or r1 <= r0:
                    return
                data = src.read(window=Window(c0, r0, c1 - c0, r1 - r0))
                _merge(data, (slice(r0 - row0, r1 - row0), slice(c0 - col0, c1 - col0)), indices, qa, valid)
                return
            # general case: read the covering window in the tile CRS, reproject with nearest
            gt = grid.affine
            g_bounds = (gt.c, gt.f + gt.e * grid.height, gt.c + gt.a * grid.width, gt.f)
            left, bottom, right, top = transform_bounds(grid.crs, tile.crs, *g_bounds, densify_pts=21)
            inv = ~tile.affine
            cols, rows = zip(*(inv @ (x, y) for x in (left, right) for y in (bottom, top)), strict=True)
            c0, c1 = max(math.floor(min(cols)) - 1, 0), min(math.ceil(max(cols)) + 1, tile.width)
            r0, r1 = max(math.floor(min(rows)) - 1, 0), min(math.ceil(max(rows)) + 1, tile.height)
            if c1 <= c0 or r1 <= r0:
                return
            k, (c0, c1), (r0, r1) = _decimated(c0, c1, r0, r1, tile, grid)
            win = Window(c0, r0, c1 - c0, r1 - r0)
            if k > 1:  # a coarser grid: every k-th pixel (overviews when the file has them)
                out = (BANDS, (r1 - r0) // k, (c1 - c0) // k)
                data = src.read(window=win, out_shape=out, resampling=Resampling.nearest)
            else:
                data = src.read(window=win)
            src_transform = tile.affine @ Affine.translation(c0, r0) @ Affine.scale(k)
    except RasterioError as exc:
        raise StoreError(f"{tile.uri}: cannot read window ({exc})") from exc
    stack = np.concatenate([data, _has_data(data[:STEPS])[None].astype(np.uint16)])  # band 14: valid
    dst = np.zeros((BANDS + 1, grid.height, grid.width), dtype=np.uint16)
    reproject(
        stack,
        dst,
        src_transform=src_transform,
        src_crs=tile.crs,
        dst_transform=grid.affine,
        dst_crs=grid.crs,
        resampling=Resampling.nearest,
        num_threads=1,
    )
    dst[:BANDS] *= dst[BANDS].astype(bool)  # pixels no source pixel reached stay nodata
    _merge(dst[:BANDS], (slice(None), slice(None)), indices, qa, valid)


def _decimated(
    c0: int, c1: int, r0: int, r1: int, tile: EsdTileInfo, grid: Grid
) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """``(k, (c0, c1), (r0, r1))``: a window read decimated by ``k`` for a grid coarser than the tile.

    ``k`` is a power of 2 at most the tile pixels per grid pixel (so every grid pixel still finds its
    nearest tile pixel, and overview levels match); the window is widened to whole multiples of ``k``
    inside the tile (``k`` halves until it fits). ``k = 1`` and the window unchanged otherwise.
    """
    ratio = min((c1 - c0 - 2) / grid.width, (r1 - r0 - 2) / grid.height) + 1e-6  # less the 1 px margins
    k = 1
    while k * 2 <= ratio:
        k *= 2
    while k > 1:
        cols, rows = _widen(c0, c1, k, tile.width), _widen(r0, r1, k, tile.height)
        if cols is not None and rows is not None:
            return k, cols, rows
        k //= 2
    return 1, (c0, c1), (r0, r1)


def _widen(lo: int, hi: int, k: int, size: int) -> tuple[int, int] | None:
    """``[lo, hi)`` widened to a multiple of ``k`` pixels inside ``[0, size)``; None if it cannot be."""
    span = -(-(hi - lo) // k) * k
    if span > size:
        return None
    return (lo, lo + span) if lo + span <= size else (size - span, size)


def _has_data(steps: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixel holds data, i.e. not all 12 indices of ``steps`` (12, H, W) are 0."""
    return np.bitwise_or.reduce(steps, axis=0) != 0


def _merge(
    data: np.ndarray, out: tuple[slice, slice], indices: np.ndarray, qa: np.ndarray, valid: np.ndarray
) -> None:
    """Copy tile pixels ``data`` (13, h, w) into the output region ``out`` where the output has no data yet."""
    has = _has_data(data[:STEPS])
    taken = valid[out]
    if not taken.any():  # the usual case: plain copies
        indices[(slice(None), *out)] = data[:STEPS]
        qa[out] = data[STEPS] * has
        valid[out] = has
        return
    new = has & ~taken
    np.copyto(indices[(slice(None), *out)], data[:STEPS], where=new[None])
    np.copyto(qa[out], data[STEPS], where=new)
    valid[out] |= new


def _read_pixels(tile: EsdTileInfo, row: np.ndarray, col: np.ndarray, strategy: PointStrategy) -> np.ndarray:
    """``(13, k)`` uint16 band values of pixels ``(row, col)`` of a tile (all inside it)."""
    out = np.zeros((BANDS, row.size), dtype=np.uint16)
    try:
        with _open(tile) as src:
            if strategy == "pixel":
                for i, (r, c) in enumerate(zip(row.tolist(), col.tolist(), strict=True)):
                    out[:, i] = src.read(window=Window(c, r, 1, 1))[:, 0, 0]
                return out
            if strategy == "window":
                groups = [np.arange(row.size)]
            else:
                bh, bw = src.block_shapes[0]
                key = (row // bh) * (tile.width // bw + 1) + col // bw
                order = np.argsort(key, kind="stable")
                splits = np.flatnonzero(np.diff(key[order])) + 1
                groups = np.split(order, splits)
            for g in groups:
                r0, r1 = int(row[g].min()), int(row[g].max()) + 1
                c0, c1 = int(col[g].min()), int(col[g].max()) + 1
                data = src.read(window=Window(c0, r0, c1 - c0, r1 - r0))
                out[:, g] = data[:, row[g] - r0, col[g] - c0]
    except RasterioError as exc:
        raise StoreError(f"{tile.uri}: cannot read points ({exc})") from exc
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ml.esd.store {catalog FOLDER | summary LOCATION | points LOCATION --lonlat ...}``."""
    parser = argparse.ArgumentParser(prog="python -m ml.esd.store", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_cat = sub.add_parser(
        "catalog", help="write catalog.json next to the tiles of a folder (for http serving)"
    )
    p_cat.add_argument("folder")
    p_sum = sub.add_parser(
        "summary", help="tiles per year, CRSs, extent and rejected files of a store (JSON)"
    )
    p_sum.add_argument("location", help="folder, file:// or http(s):// prefix")
    p_pts = sub.add_parser("points", help="FSQ indices of lon/lat points in each year (JSON)")
    p_pts.add_argument("location")
    p_pts.add_argument(
        "--lonlat", nargs=2, type=float, action="append", required=True, metavar=("LON", "LAT")
    )
    p_pts.add_argument("--years", nargs="*", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "catalog":
            path, rejected = write_catalog(args.folder)
            tiles = json.loads(path.read_text())["tiles"]
            out: dict[str, Any] = {
                "catalog": str(path),
                "tiles": len(tiles),
                "rejected": [{"uri": u, "reason": r} for u, r in rejected],
            }
        elif args.command == "summary":
            out = EsdStore.open(args.location).summary()
        else:
            store = EsdStore.open(args.location)
            lon, lat = zip(*args.lonlat, strict=True)
            res = store.read_points(lon, lat, args.years)
            out = {
                "years": list(res.years),
                "points": [
                    {"lon": lo, "lat": la, "valid": res.valid[i].tolist(), "indices": res.indices[i].tolist()}
                    for i, (lo, la) in enumerate(args.lonlat)
                ],
            }
    except (StoreError, TileError) as exc:
        json.dump({"error": str(exc)}, sys.stdout)
        sys.stdout.write("\n")
        return 1
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
