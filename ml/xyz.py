"""Web Mercator XYZ tiles of rasters: nearest-neighbour reads at the fitting overview, drawn as PNG.

The map tiles' render path. A tile's 256 x 256 pixel centres are projected into the raster's CRS
(exactly at a 17 x 17 grid of control points, bilinearly in between: the same approximation GDAL's
warper makes, well under a tenth of a pixel at map zooms), each takes the raster pixel under it (from
the coarsest overview still at least as fine as the tile), and the values become colours through a
lookup table and a palette PNG. No warped VRT, no per-pixel ``pyproj`` call: a render is a few
milliseconds of numpy and zlib.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.enums import MaskFlags
from rasterio.windows import Window

from ml.colormaps import RGBA, ColorMap

TILE_SIZE: Final[int] = 256  # pixels per tile side
ORIGIN: Final[float] = 20037508.342789244  # half the width of the Web Mercator world (m)
CONTROL_STEP: Final[int] = 16  # tile pixels between control points projected exactly
EXACT_BELOW_ZOOM: Final[int] = 7  # tiles wider than ~300 km: every pixel projected exactly
PNG_LEVEL: Final[int] = 1  # zlib level: 5x faster than 6 (GDAL's default) on class maps, PNGs ~1.4x larger

BBox = tuple[float, float, float, float]  # (left, bottom, right, top)


@dataclass(frozen=True)
class XyzData:
    """The raster values under each pixel centre of one XYZ tile.

    ``data`` (bands, 256, 256) in the raster's dtype, rows from north to south; ``valid`` (256, 256)
    is False outside the raster and at nodata (or masked, or NaN) pixels, where ``data`` is meaningless.
    """

    data: np.ndarray
    valid: np.ndarray


def mercator_bounds(z: int, x: int, y: int) -> BBox:
    """``(left, bottom, right, top)`` of XYZ tile ``(z, x, y)`` in EPSG:3857 metres."""
    size = 2 * ORIGIN / 2**z
    left, top = -ORIGIN + x * size, ORIGIN - y * size
    return (left, top - size, left + size, top)


@lru_cache(maxsize=64)
def _from_mercator(crs_wkt: str) -> Transformer:
    return Transformer.from_crs("EPSG:3857", crs_wkt, always_xy=True)


@lru_cache(maxsize=8)
def _interpolation(size: int, step: int) -> np.ndarray:
    """``(size, size // step + 1)`` weights of linear interpolation from control points at pixel edges
    ``0, step, .., size`` to pixel centres ``0.5 .. size - 0.5``."""
    n = size // step
    t = (np.arange(size) + 0.5) / step  # pixel centres in control units
    k = np.minimum(np.floor(t).astype(int), n - 1)
    frac = t - k
    w = np.zeros((size, n + 1))
    w[np.arange(size), k] = 1 - frac
    w[np.arange(size), k + 1] = frac
    w.setflags(write=False)
    return w


def pixel_centres(
    crs_wkt: str, z: int, x: int, y: int, size: int = TILE_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """``(xs, ys)``, each ``(size, size)``: the tile's pixel centres in the CRS ``crs_wkt`` (NaN where
    they have no coordinates there)."""
    return _centres(crs_wkt, z, x, y, size, Affine.identity())


def _centres(
    crs_wkt: str, z: int, x: int, y: int, size: int, to_pixels: Affine
) -> tuple[np.ndarray, np.ndarray]:
    """The tile's pixel centres in the CRS ``crs_wkt``, mapped through ``to_pixels`` (a raster's inverse
    geotransform gives its fractional ``(col, row)``); each ``(size, size)``, NaN where undefined."""
    left, _, right, top = mercator_bounds(z, x, y)
    res = (right - left) / size
    transformer = _from_mercator(crs_wkt)
    t = to_pixels
    if z >= EXACT_BELOW_ZOOM and size % CONTROL_STEP == 0:
        pos = np.arange(0, size + 1, CONTROL_STEP) * res
        mx, my = np.meshgrid(left + pos, top - pos)
        cx, cy = transformer.transform(mx, my)
        if np.isfinite(cx).all() and np.isfinite(cy).all():
            w = _interpolation(size, CONTROL_STEP)
            u, v = t.a * cx + t.b * cy + t.c, t.d * cx + t.e * cy + t.f  # linear: interpolate after
            return w @ u @ w.T, w @ v @ w.T
    centres = (np.arange(size) + 0.5) * res
    mx, my = np.meshgrid(left + centres, top - centres)
    xs, ys = transformer.transform(mx, my)
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    bad = ~(np.isfinite(xs) & np.isfinite(ys))
    xs[bad], ys[bad] = np.nan, np.nan
    return t.a * xs + t.b * ys + t.c, t.d * xs + t.e * ys + t.f


def read_xyz(path: str | Path, z: int, x: int, y: int, indexes: tuple[int, ...] = (1,)) -> XyzData | None:
    """Bands ``indexes`` of the raster at ``path`` under the pixel centres of tile ``(z, x, y)``.

    Nearest neighbour, read from the coarsest overview whose pixels are still no larger than the tile's
    (the full resolution when there is none), only the window the tile covers. None when the tile does
    not touch the raster.
    """
    with rasterio.open(path) as src:
        col, row = _centres(src.crs.to_wkt(), z, x, y, TILE_SIZE, ~src.transform)
        with np.errstate(invalid="ignore"):
            if np.isnan(col).all():
                return None
            # source pixels per tile pixel, along the tile's rows and columns
            step = max(
                float(np.nanmedian(np.hypot(col[:, -1] - col[:, 0], row[:, -1] - row[:, 0]))),
                float(np.nanmedian(np.hypot(col[-1] - col[0], row[-1] - row[0]))),
            ) / (TILE_SIZE - 1)
            box = (float(np.nanmin(col)), float(np.nanmin(row)), float(np.nanmax(col)), float(np.nanmax(row)))
            inside = (col >= 0) & (col < src.width) & (row >= 0) & (row < src.height)
        half = step / 2  # the tile pixel's own extent around its centre
        if (
            box[2] + half <= 0
            or box[3] + half <= 0
            or box[0] - half >= src.width
            or box[1] - half >= src.height
        ):
            return None
        if not inside.any():
            return XyzData(np.zeros((len(indexes), TILE_SIZE, TILE_SIZE), src.dtypes[indexes[0] - 1]), inside)
        level = max((i for i, f in enumerate(src.overviews(indexes[0])) if f <= step), default=-1)
        if level < 0:
            return _sample(src, col, row, box, inside, indexes, (1.0, 1.0))
        scale = (src.width, src.height)
    with rasterio.open(path, overview_level=level) as ovr:
        return _sample(ovr, col, row, box, inside, indexes, (ovr.width / scale[0], ovr.height / scale[1]))


def _sample(
    src: rasterio.io.DatasetReader,
    col: np.ndarray,
    row: np.ndarray,
    box: BBox,
    inside: np.ndarray,
    indexes: tuple[int, ...],
    scale: tuple[float, float],
) -> XyzData:
    """Read the window of ``src`` under ``box`` (full-resolution pixels, times ``scale`` in ``src``'s) and
    take the pixel under each ``(col, row)``."""
    sx, sy = scale
    c0, r0 = max(int(box[0] * sx), 0), max(int(box[1] * sy), 0)
    c1, r1 = min(int(box[2] * sx) + 1, src.width), min(int(box[3] * sy) + 1, src.height)
    win = Window(c0, r0, c1 - c0, r1 - r0)
    data = src.read(indexes, window=win)
    ok = _valid_pixels(src, data, indexes[0], win)
    ci = np.clip((np.nan_to_num(col) * sx).astype(np.intp) - c0, 0, c1 - c0 - 1)
    ri = np.clip((np.nan_to_num(row) * sy).astype(np.intp) - r0, 0, r1 - r0 - 1)
    return XyzData(data[:, ri, ci], inside & ok[ri, ci])


def _valid_pixels(src: rasterio.io.DatasetReader, data: np.ndarray, band: int, win: Window) -> np.ndarray:
    """Of the window read: not nodata, not NaN, not masked."""
    first = data[0]
    ok = np.isfinite(first) if first.dtype.kind == "f" else np.ones(first.shape, dtype=bool)
    if src.nodata is not None:
        ok &= first != src.nodata
    elif MaskFlags.all_valid not in src.mask_flag_enums[band - 1]:  # an alpha band or an internal mask
        ok &= src.read_masks(band, window=win) > 0
    return ok


# ------------------------------------------------------------------------------------------- drawing
@lru_cache(maxsize=256)
def _tables(items: tuple[tuple[int, RGBA], ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(index, colours)`` of a colour map: ``index[value]`` -> row of ``colours`` ((n, 4) uint8, row 0
    transparent); values without a colour go to row 0."""
    top = max([255, *(v for v, _ in items if v >= 0)])
    colours: list[RGBA] = [(0, 0, 0, 0)]
    rows: dict[RGBA, int] = {}
    index = np.zeros(top + 1, dtype=np.uint16)
    for value, rgba in items:
        if value < 0 or value > top:
            continue
        key: RGBA = (int(rgba[0]), int(rgba[1]), int(rgba[2]), int(rgba[3]))
        if key[3] == 0:
            continue  # transparent: row 0
        if key not in rows:
            rows[key] = len(colours)
            colours.append(key)
        index[value] = rows[key]
    index.setflags(write=False)
    table = np.array(colours, dtype=np.uint8)
    table.setflags(write=False)
    return index, table


def colour_values(values: np.ndarray, valid: np.ndarray, colormap: ColorMap) -> bytes:
    """PNG of integer ``values`` (H, W) drawn with ``colormap``; invalid pixels and values without a
    colour are transparent. A palette PNG when the map has at most 255 colours, else RGBA."""
    index, table = _tables(tuple(sorted(colormap.items())))
    v = values.astype(np.int64, copy=False)
    known = valid & (v >= 0) & (v < index.size)
    rows = np.where(known, index[np.clip(v, 0, index.size - 1)], 0)
    if len(table) <= 256:
        return encode_png(rows.astype(np.uint8), palette=table)
    return encode_png(table[rows])


def rescale(values: np.ndarray, in_range: tuple[float, float]) -> np.ndarray:
    """``values`` mapped linearly from ``in_range`` to 0..255 (clipped, truncated to uint8; NaN -> 0)."""
    lo, hi = in_range
    scaled = (np.clip(np.nan_to_num(values, nan=lo), lo, hi) - lo) / (hi - lo) * 255.0
    return scaled.astype(np.uint8)


def encode_png(pixels: np.ndarray, palette: np.ndarray | None = None, level: int = PNG_LEVEL) -> bytes:
    """PNG bytes of ``pixels``: (H, W) uint8 rows of ``palette`` ((n, 4) RGBA, n <= 256), or
    (H, W, 4) uint8 RGBA when ``palette`` is None."""
    if palette is None:
        if pixels.ndim != 3 or pixels.shape[2] != 4:
            raise ValueError(f"RGBA pixels must be (H, W, 4), got {pixels.shape}")
        colour_type, h, w = 6, pixels.shape[0], pixels.shape[1]
    else:
        if pixels.ndim != 2 or len(palette) > 256:
            raise ValueError(f"palette pixels must be (H, W) with <= 256 colours, got {pixels.shape}")
        colour_type, (h, w) = 3, pixels.shape
    raw = np.zeros((h, 1 + pixels[0].size), dtype=np.uint8)  # filter byte 0 (none) per row
    raw[:, 1:] = pixels.reshape(h, -1)
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))]
    if palette is not None:
        pal = np.asarray(palette, dtype=np.uint8)
        chunks.append(_chunk(b"PLTE", pal[:, :3].tobytes()))
        alpha = pal[:, 3]
        see_through = np.flatnonzero(alpha != 255)
        if see_through.size:  # tRNS lists alphas up to the last colour that is not opaque
            chunks.append(_chunk(b"tRNS", alpha[: see_through[-1] + 1].tobytes()))
    chunks.append(_chunk(b"IDAT", zlib.compress(raw.tobytes(), level)))
    chunks.append(_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
