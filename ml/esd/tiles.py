"""ESD tiles: the official GeoTIFF layout (13 bands uint16, one file per tile and year), read and write.

Layout (Chen et al., 2026; github.com/shuangchencc/ESD): ``SDC30_EBD_V001_{TILE}_{YYYY}.tif``, bands 1-12
the FSQ index of each monthly step (:mod:`ml.esd.codec`), band 13 QA (number of clear observations). A
pixel is nodata when its 12 indices are all 0. ``{TILE}`` is the MGRS id in official tiles and any short
id of letters, digits and ``-`` in ours. Tiles written here are COGs (internal tiles, ZSTD, overviews
made with nearest resampling: averaging FSQ indices is meaningless) in any CRS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

from ml.atomic import atomic_path
from ml.errors import TileError
from ml.esd.codec import CODEBOOK_SIZE, STEPS
from ml.grid import BBox, GridGeometry, Transform6

BANDS: Final[int] = STEPS + 1  # 12 FSQ index bands + QA
QA_BAND: Final[int] = 13  # 1-based band number of the QA count
NAME_PREFIX: Final[str] = "SDC30_EBD_V001"
TILE_ID_PATTERN: Final[str] = r"[A-Za-z0-9-]{1,48}"
NAME_RE: Final[re.Pattern[str]] = re.compile(
    rf"^{NAME_PREFIX}_(?P<tile>{TILE_ID_PATTERN})_(?P<year>\d{{4}})\.tif$"
)
MGRS_RE: Final[re.Pattern[str]] = re.compile(r"^\d{1,2}[C-HJ-NP-X][A-HJ-NP-Z]{2}$")
PRODUCER_TAG: Final[str] = "ESD_PRODUCER"  # present in tiles this project writes; absent in official ones
PRODUCER: Final[str] = "esd-monitor"
SOURCE_OFFICIAL: Final[str] = "official"
SOURCE_ENCODED: Final[str] = "encoded"

# GDAL options for remote (http/https) tiles: no directory listing, only .tif probed, cache blocks.
REMOTE_GDAL_OPTIONS: Final[dict[str, Any]] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "VSI_CACHE": "TRUE",
    "GDAL_HTTP_MAX_RETRY": 2,
    "GDAL_HTTP_RETRY_DELAY": 0.5,
}


def tile_filename(tile_id: str, year: int) -> str:
    """``SDC30_EBD_V001_{tile_id}_{year}.tif``; raises :class:`TileError` for an id or year it cannot hold."""
    if not re.fullmatch(TILE_ID_PATTERN, tile_id):
        raise TileError(f"tile id {tile_id!r} must be 1-48 letters, digits or '-'")
    if not 1000 <= int(year) <= 9999:
        raise TileError(f"year {year!r} must have four digits")
    return f"{NAME_PREFIX}_{tile_id}_{int(year):04d}.tif"


def parse_tile_name(name: str) -> tuple[str, int]:
    """``(tile_id, year)`` of a tile file name or path/URL ending in one; raises :class:`TileError`."""
    base = name.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    m = NAME_RE.match(base)
    if m is None:
        raise TileError(f"{base}: name does not match {NAME_PREFIX}_{{TILE}}_{{YYYY}}.tif")
    return m["tile"], int(m["year"])


def is_remote(uri: str) -> bool:
    """Whether ``uri`` is an http(s) URL (read through GDAL's range requests)."""
    return uri.startswith(("http://", "https://"))


def local_path(uri: str) -> Path:
    """The local path of a plain path or ``file://`` URI."""
    if uri.startswith("file://"):
        return Path(urllib.request.url2pathname(uri[len("file://") :]))
    return Path(uri)


def gdal_path(uri: str) -> str:
    """What rasterio opens for ``uri``: ``/vsicurl/`` URL for http(s), a filesystem path otherwise."""
    return f"/vsicurl/{uri}" if is_remote(uri) else str(local_path(uri))


def gdal_env(**options: Any) -> rasterio.Env:
    """A ``rasterio.Env`` set up for reading tiles, local or remote (see :data:`REMOTE_GDAL_OPTIONS`)."""
    return rasterio.Env(**{**REMOTE_GDAL_OPTIONS, **options})


def uri_fingerprint(uri: str) -> tuple[int, str]:
    """``(size_bytes, fingerprint)``: size+mtime of a local file, or the HTTP ETag (else size+Last-Modified).

    The fingerprint changes when the file changes, so indexing can skip files it has already seen.
    """
    if is_remote(uri):
        req = urllib.request.Request(uri, method="HEAD")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                size = int(resp.headers.get("Content-Length") or 0)
                etag = resp.headers.get("ETag")
                modified = resp.headers.get("Last-Modified") or ""
        except OSError as exc:
            raise TileError(f"{uri}: cannot reach ({exc})") from exc
        return size, (f"etag:{etag}" if etag else f"http:{size}:{modified}")
    try:
        st = local_path(uri).stat()
    except OSError as exc:
        raise TileError(f"{uri}: cannot stat ({exc.strerror or exc})") from exc
    return st.st_size, f"file:{st.st_size}:{st.st_mtime_ns}"


@dataclass(frozen=True)
class EsdTileInfo(GridGeometry):
    """Grid and catalog metadata of one ESD tile (one tile id, one year); no pixel data.

    ``transform`` maps pixel (col, row) to CRS coordinates of the pixel's upper-left corner; tiles are
    north-up (no rotation). ``bounds`` are in the tile CRS, ``lonlat_bounds`` in EPSG:4326.
    """

    uri: str  # absolute path, file:// or http(s):// URL
    tile_id: str  # MGRS id (official) or our short id
    year: int  # calendar year of the embeddings
    crs_wkt: str  # WKT of the tile CRS
    transform: Transform6  # (a, b, c, d, e, f); a = pixel width, e = -pixel height
    width: int  # pixels
    height: int  # pixels
    epsg: int | None = None  # EPSG code of the CRS when it has one
    source: str = SOURCE_ENCODED  # "official" (no producer tag) or "encoded" (written by this project)
    size_bytes: int = 0  # file size
    fingerprint: str = ""  # size+mtime or ETag (see uri_fingerprint)
    valid_fraction: float | None = None  # share of valid pixels (from overviews; None if not measured)
    block_shape: tuple[int, int] = field(default=(256, 256), compare=False)  # internal (rows, cols) block

    @property
    def name(self) -> str:
        """The file name, ``SDC30_EBD_V001_{tile_id}_{year}.tif``."""
        return tile_filename(self.tile_id, self.year)

    @cached_property
    def footprint_lonlat(self) -> list[tuple[float, float]]:
        """Closed ring of the tile outline in lon/lat (EPSG:4326), 16 points per edge."""
        left, bottom, right, top = self.bounds
        n = 16
        t = np.linspace(0.0, 1.0, n, endpoint=False)
        xs = np.concatenate(
            [left + (right - left) * t, np.full(n, right), right - (right - left) * t, np.full(n, left)]
        )
        ys = np.concatenate(
            [np.full(n, top), top - (top - bottom) * t, np.full(n, bottom), bottom + (top - bottom) * t]
        )
        lon, lat = warp_transform(self.crs, "EPSG:4326", xs.tolist(), ys.tolist())
        ring = list(zip(lon, lat, strict=True))
        return [*ring, ring[0]]

    @cached_property
    def lonlat_bounds(self) -> BBox:
        """``(west, south, east, north)`` of :attr:`footprint_lonlat`."""
        lon, lat = zip(*self.footprint_lonlat, strict=True)
        return (min(lon), min(lat), max(lon), max(lat))

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (the fields of this class; ``transform`` as a list)."""
        rec = asdict(self)
        rec["transform"] = list(self.transform)
        rec["block_shape"] = list(self.block_shape)
        return rec

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EsdTileInfo:
        """Rebuild from :meth:`to_record` output or any mapping with the same keys (extra keys ignored)."""
        try:
            return cls(
                uri=str(record["uri"]),
                tile_id=str(record["tile_id"]),
                year=int(record["year"]),
                crs_wkt=str(record["crs_wkt"]),
                transform=cast(Transform6, tuple(float(v) for v in record["transform"][:6])),
                width=int(record["width"]),
                height=int(record["height"]),
                epsg=None if record.get("epsg") is None else int(record["epsg"]),
                source=str(record.get("source") or SOURCE_ENCODED),
                size_bytes=int(record.get("size_bytes") or 0),
                fingerprint=str(record.get("fingerprint") or ""),
                valid_fraction=None
                if record.get("valid_fraction") is None
                else float(record["valid_fraction"]),
                block_shape=tuple(record.get("block_shape") or (256, 256)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TileError(f"tile record {record.get('uri', '?')}: missing or bad field ({exc})") from exc


@dataclass(frozen=True)
class TileData:
    """Pixels of a tile or a window of it; ``valid`` is False where all 12 indices are 0 (nodata)."""

    indices: np.ndarray  # (12, H, W) uint16 FSQ index of each monthly step; 0 everywhere at nodata
    qa: np.ndarray  # (H, W) uint16 clear-observation count
    valid: np.ndarray  # (H, W) bool
    transform: Affine  # of the window's upper-left pixel corner
    crs: CRS


@contextlib.contextmanager
def open_tile(uri: str) -> Iterator[rasterio.io.DatasetReader]:
    """Open a tile for reading (inside :func:`gdal_env`); raises :class:`TileError` naming the file."""
    with gdal_env():
        try:
            src = rasterio.open(gdal_path(uri))
        except (RasterioError, OSError) as exc:
            raise TileError(f"{uri}: not a readable GeoTIFF ({_short(exc)})") from exc
        with src:
            yield src


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _check_layout(uri: str, src: rasterio.io.DatasetReader) -> None:
    if src.driver != "GTiff":
        raise TileError(f"{uri}: not a GeoTIFF (GDAL driver {src.driver})")
    if src.count != BANDS:
        raise TileError(f"{uri}: has {src.count} bands, an ESD tile has {BANDS} (12 FSQ indices + QA)")
    bad = sorted({d for d in src.dtypes if d != "uint16"})
    if bad:
        raise TileError(f"{uri}: band dtype {', '.join(bad)}, an ESD tile is uint16")
    if src.crs is None:
        raise TileError(f"{uri}: has no CRS")
    t = src.transform
    if t.is_identity or t.b != 0 or t.d != 0:
        raise TileError(f"{uri}: needs a north-up geotransform, got {tuple(t)[:6]}")


def read_tile_info(uri: str | Path, *, check_data: bool = True) -> EsdTileInfo:
    """Validate a tile and return its metadata.

    Checks the name, that GDAL reads it as a GeoTIFF, 13 bands, uint16, a CRS and a north-up transform.
    With ``check_data`` it also reads the last full-resolution block (catches truncated files) and a
    decimated view (overviews when present, at most 256 px a side) to measure ``valid_fraction``.
    Raises :class:`TileError` naming the file and the problem.
    """
    uri = str(uri)
    tile_id, year = parse_tile_name(uri)
    size, fingerprint = uri_fingerprint(uri)
    with open_tile(uri) as src:
        _check_layout(uri, src)
        valid_fraction = None
        try:
            if check_data:
                bh, bw = src.block_shapes[0]
                last = Window(
                    (src.width - 1) // bw * bw,
                    (src.height - 1) // bh * bh,
                    min(bw, src.width),
                    min(bh, src.height),
                ).intersection(Window(0, 0, src.width, src.height))
                src.read(window=last)
                scale = max(src.width, src.height) / 256
                out_h, out_w = (
                    max(1, round(src.height / max(scale, 1))),
                    max(1, round(src.width / max(scale, 1))),
                )
                small = src.read(
                    indexes=list(range(1, STEPS + 1)),
                    out_shape=(STEPS, out_h, out_w),
                    resampling=Resampling.nearest,
                )
                if int(small.max(initial=0)) >= CODEBOOK_SIZE:
                    raise TileError(f"{uri}: FSQ index {int(small.max())} out of range [0, {CODEBOOK_SIZE})")
                valid_fraction = float(small.any(axis=0).mean())
        except RasterioError as exc:
            raise TileError(f"{uri}: corrupt data ({_short(exc)})") from exc
        tags = src.tags()
        epsg = src.crs.to_epsg()
        return EsdTileInfo(
            uri=uri,
            tile_id=tile_id,
            year=year,
            crs_wkt=src.crs.to_wkt(),
            transform=tuple(src.transform)[:6],
            width=src.width,
            height=src.height,
            epsg=epsg,
            source=SOURCE_ENCODED if PRODUCER_TAG in tags else SOURCE_OFFICIAL,
            size_bytes=size,
            fingerprint=fingerprint,
            valid_fraction=valid_fraction,
            block_shape=tuple(src.block_shapes[0]),
        )


def read_tile(uri: str | Path, window: Window | None = None) -> TileData:
    """Read a whole tile or one window of it (indices, QA, valid mask); raises :class:`TileError`."""
    uri = str(uri)
    with open_tile(uri) as src:
        _check_layout(uri, src)
        try:
            data = src.read(window=window)
        except RasterioError as exc:
            raise TileError(f"{uri}: corrupt data ({_short(exc)})") from exc
        transform = src.window_transform(window) if window is not None else src.transform
        return TileData(
            indices=data[:STEPS],
            qa=data[STEPS],
            valid=data[:STEPS].any(axis=0),
            transform=transform,
            crs=src.crs,
        )


def prepare_indices(indices: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Apply the nodata rule: indices of invalid pixels become 0; a valid pixel whose 12 indices are all
    0 gets step 1 set to index 1 (the nearest non-zero index), so it is never read back as nodata.
    Returns a new ``(12, H, W)`` uint16 array.
    """
    out = np.where(valid[None], indices, 0).astype(np.uint16)
    all_zero = valid & ~out.any(axis=0)
    out[0][all_zero] = 1
    return out


def write_tile(
    directory: str | Path,
    tile_id: str,
    year: int,
    indices: np.ndarray,
    qa: np.ndarray,
    valid: np.ndarray,
    crs: CRS | str | int,
    transform: Affine | Sequence[float],
    *,
    blocksize: int = 256,
    compress: str = "ZSTD",
    overview_min_size: int = 256,
    tags: Mapping[str, str] | None = None,
) -> Path:
    """Write one ESD tile as a COG and return its path ``directory / tile_filename(tile_id, year)``.

    ``indices`` (12, H, W) FSQ indices < 64,000; ``qa`` (H, W) clear-observation counts; ``valid``
    (H, W) bool (invalid pixels are written as nodata: 12 zero indices, QA 0). ``crs`` anything
    ``rasterio.crs.CRS`` accepts (EPSG int, "EPSG:32613", WKT); ``transform`` north-up. Internal blocks
    of ``blocksize`` (multiple of 16), ``compress`` (ZSTD, DEFLATE or LZW), overviews by nearest
    resampling down to ``overview_min_size`` px. ``tags`` are added to the file's metadata (our encoder
    names its band set in ``ESD_MODEL`` and the first month of its years in ``ESD_YEAR_START_MONTH``). The
    file is written next to its target and renamed, so readers never see a half-written tile.
    """
    from rio_cogeo.cogeo import cog_translate

    name = tile_filename(tile_id, year)
    idx = np.asarray(indices)
    qa = np.asarray(qa)
    valid = np.asarray(valid, dtype=bool)
    if idx.ndim != 3 or idx.shape[0] != STEPS:
        raise TileError(f"{name}: indices must have shape (12, H, W), got {idx.shape}")
    h, w = idx.shape[1:]
    if qa.shape != (h, w) or valid.shape != (h, w):
        raise TileError(f"{name}: qa {qa.shape} and valid {valid.shape} must have shape {(h, w)}")
    if not np.issubdtype(idx.dtype, np.integer) or (
        idx.size and (idx.min() < 0 or idx.max() >= CODEBOOK_SIZE)
    ):
        raise TileError(f"{name}: indices must be integers in [0, {CODEBOOK_SIZE})")
    if not np.issubdtype(qa.dtype, np.integer) or (qa.size and (qa.min() < 0 or qa.max() > 65535)):
        raise TileError(f"{name}: qa must be integers in [0, 65535]")
    if blocksize % 16:
        raise TileError(f"{name}: blocksize {blocksize} must be a multiple of 16")
    try:
        crs_obj = CRS.from_user_input(crs)
    except Exception as exc:
        raise TileError(f"{name}: bad CRS {crs!r} ({exc})") from exc
    affine = transform if isinstance(transform, Affine) else Affine(*tuple(transform)[:6])
    data = np.concatenate([prepare_indices(idx, valid), np.where(valid, qa, 0).astype(np.uint16)[None]])

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": BANDS,
        "dtype": "uint16",
        "crs": crs_obj,
        "transform": affine,
    }
    if compress.upper() not in {"ZSTD", "DEFLATE", "LZW"}:
        raise TileError(f"{name}: unknown compression {compress!r} (ZSTD, DEFLATE or LZW)")
    cog = {
        "driver": "GTiff",
        "interleave": "pixel",  # one block holds all 13 bands: a window read touches each block once
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "compress": compress.upper(),
        "predictor": 1,  # indices are codes, not smooth values: differencing does not help
    }
    with atomic_path(target) as tmp, MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data)
            dst.update_tags(
                **{
                    PRODUCER_TAG: PRODUCER,
                    "ESD_NODATA": "all 12 FSQ index bands are 0",
                    **dict(tags or {}),
                }
            )
            for b in range(1, STEPS + 1):
                dst.set_band_description(b, f"fsq_step_{b:02d}")
            dst.set_band_description(QA_BAND, "qa_clear_count")
        with mem.open() as src:
            cog_translate(
                src,
                str(tmp),
                cog,
                in_memory=True,
                quiet=True,
                overview_resampling="nearest",
                overview_level=overview_levels(max(h, w), overview_min_size),
                config={"GDAL_NUM_THREADS": "1", "GDAL_TIFF_OVR_BLOCKSIZE": str(blocksize)},
                use_cog_driver=False,
            )
    return target


def overview_levels(size: int, min_size: int) -> int:
    """Number of 2x overview levels until the image is at most ``min_size`` px a side."""
    levels = 0
    while size > min_size:
        size = (size + 1) // 2
        levels += 1
    return levels


def tile_summary(uri: str | Path, *, max_size: int = 1024) -> dict[str, Any]:
    """Grid, years, valid fraction and QA summary of one tile, as a JSON-ready dict.

    Pixel statistics come from a nearest-resampled view of at most ``max_size`` px a side (overviews when
    present); ``sampled_pixels`` says how many pixels they cover.
    """
    info = read_tile_info(uri)
    with open_tile(str(uri)) as src:
        scale = max(1.0, max(src.width, src.height) / max_size)
        out_h, out_w = max(1, round(src.height / scale)), max(1, round(src.width / scale))
        data = src.read(out_shape=(BANDS, out_h, out_w), resampling=Resampling.nearest)
        overviews = src.overviews(1)
        compression = src.compression.value if src.compression else None
    valid = data[:STEPS].any(axis=0)
    qa = data[STEPS][valid]
    return {
        "file": str(uri),
        "tile_id": info.tile_id,
        "year": info.year,
        "source": info.source,
        "crs": info.crs.to_string(),
        "epsg": info.epsg,
        "width": info.width,
        "height": info.height,
        "resolution": info.resolution,
        "transform": list(info.transform),
        "bounds": list(info.bounds),
        "lonlat_bounds": [round(v, 7) for v in info.lonlat_bounds],
        "block_shape": list(info.block_shape),
        "overviews": overviews,
        "compression": compression,
        "size_bytes": info.size_bytes,
        "sampled_pixels": int(valid.size),
        "valid_fraction": float(valid.mean()),
        "distinct_indices": int(np.unique(data[:STEPS][:, valid]).size) if valid.any() else 0,
        "qa": {
            "min": int(qa.min()) if qa.size else None,
            "mean": float(qa.mean()) if qa.size else None,
            "median": float(np.median(qa)) if qa.size else None,
            "max": int(qa.max()) if qa.size else None,
            "zero_fraction": float((qa == 0).mean()) if qa.size else None,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ml.esd.tiles info FILE [FILE ...]``: print each tile's summary as JSON."""
    parser = argparse.ArgumentParser(prog="python -m ml.esd.tiles", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="grid, year, valid fraction and QA summary of ESD tiles (JSON)")
    p_info.add_argument("files", nargs="+", metavar="FILE", help="tile path, file:// or http(s):// URL")
    p_info.add_argument("--max-size", type=int, default=1024, help="pixels a side of the view used for stats")
    args = parser.parse_args(argv)
    status = 0
    for f in args.files:
        try:
            out = tile_summary(f, max_size=args.max_size)
        except TileError as exc:
            out = {"file": f, "error": str(exc)}
            status = 1
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
