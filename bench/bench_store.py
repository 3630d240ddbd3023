"""ESD store lookups vs reading raw monthly reflectance: a 10 x 10 km window x 10 years, and 1,000 points.

Both stores hold the same real values. Per-pixel monthly series come from
``../shared/data/samples/matogrosso_modis_9classes.npz`` (1,687 real MODIS pixel-years, 6 bands: mir, blue,
nir, red, evi, ndvi; 23 16-day steps interpolated to 12 monthly steps). A 30 m grid is filled with
"fields" (rectangles of 4-40 px) each taking one real series, with 2% per-pixel multiplicative noise
so pixels of a field differ like real ones. The raw store keeps the float32 values as COGs of 72 bands
(12 steps x 6 bands, ZSTD + floating-point predictor); the ESD store keeps the FSQ indices of the
standardized values (``ml.esd.codec.quantize``; no trained encoder is used) in the official 13-band
uint16 layout. Tiles are 512 x 512 px and the window (334 x 334 px) sits off the block grid inside them.

Run: ``.venv/bin/python -m bench.bench_store`` (or ``python -m bench.bench_store``); prints JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_translate

from ml.esd.codec import CODE_DIM, STEPS, quantize
from ml.esd.store import EsdStore, PointStrategy
from ml.esd.tiles import write_tile

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ESD_SHARED_DATA", REPO / ".." / "shared" / "data"))
SAMPLES = SHARED / "samples" / "matogrosso_modis_9classes.npz"
CRS_UTM = CRS.from_epsg(32721)  # UTM 21S, Mato Grosso
ORIGIN = (600_000.0, 8_600_000.0)  # upper-left corner of every tile (x, y) in CRS_UTM
RES = 30.0


def monthly_series(path: Path) -> np.ndarray:
    """(N, 12, 6) float32 real monthly series: the 23 16-day steps linearly interpolated to 12 steps."""
    with np.load(path, allow_pickle=True) as d:
        x = np.asarray(d["X"], dtype=np.float32)  # (N, 23, 6)
    t_in = np.arange(x.shape[1], dtype=np.float64)
    t_out = np.linspace(0, x.shape[1] - 1, STEPS)
    out = np.empty((x.shape[0], STEPS, x.shape[2]), dtype=np.float32)
    for b in range(x.shape[2]):
        out[:, :, b] = np.array([np.interp(t_out, t_in, row) for row in x[:, :, b]])
    return out


def field_mosaic(rng: np.random.Generator, size: int, n_series: int) -> np.ndarray:
    """(size, size) int: which real series each pixel takes; a random partition into rectangles of 4-40 px
    a side ("fields"): strips of random height, each cut into runs of random width."""
    owner = np.empty((size, size), dtype=np.int64)
    r = 0
    while r < size:
        h = int(rng.integers(4, 41))
        c = 0
        while c < size:
            w = int(rng.integers(4, 41))
            owner[r : r + h, c : c + w] = rng.integers(0, n_series)
            c += w
        r += h
    return owner


def make_year(rng: np.random.Generator, series: np.ndarray, size: int, mean: np.ndarray, std: np.ndarray):
    """One year: raw (72, size, size) float32, ESD indices (12, size, size) uint16, QA (size, size)."""
    owner = field_mosaic(rng, size, series.shape[0])
    values = series[owner]  # (size, size, 12, 6)
    values = values * (1 + 0.02 * rng.standard_normal(values.shape).astype(np.float32))
    raw = np.ascontiguousarray(values.reshape(size, size, STEPS * CODE_DIM).transpose(2, 0, 1))  # (72, H, W)
    idx = quantize((values - mean) / std)  # (size, size, 12)
    indices = np.ascontiguousarray(idx.transpose(2, 0, 1))
    qa = rng.integers(5, 23, (size, size)).astype(np.uint16)
    return raw.astype(np.float32), indices, qa


def write_raw(directory: Path, year: int, raw: np.ndarray, transform: Affine) -> Path:
    """The raw alternative: a float32 COG of 72 bands (step-major: band 6*s + b + 1 = step s, band b)."""
    path = directory / f"RAW_MONTHLY_{year}.tif"
    profile = {
        "driver": "GTiff",
        "width": raw.shape[2],
        "height": raw.shape[1],
        "count": raw.shape[0],
        "dtype": "float32",
        "crs": CRS_UTM,
        "transform": transform,
    }
    cog = {
        "driver": "GTiff",
        "interleave": "pixel",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "ZSTD",
        "predictor": 3,
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(raw)
        with mem.open() as src:
            cog_translate(
                src,
                str(path),
                cog,
                in_memory=True,
                quiet=True,
                overview_resampling="average",
                config={"GDAL_NUM_THREADS": "1"},
            )
    return path


def read_raw_window(paths: list[Path], window: Window) -> np.ndarray:
    """(Y, 12, 6, H, W) float32 from the raw COGs: one windowed read per year."""
    out = np.empty((len(paths), STEPS, CODE_DIM, int(window.height), int(window.width)), dtype=np.float32)
    for y, p in enumerate(paths):
        with rasterio.open(p) as src:
            out[y] = src.read(window=window).reshape(STEPS, CODE_DIM, int(window.height), int(window.width))
    return out


def read_raw_points(paths: list[Path], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(P, Y, 72) float32 raw values at pixels (rows, cols): one window per year spanning the points."""
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    out = np.empty((rows.size, len(paths), STEPS * CODE_DIM), dtype=np.float32)
    for y, p in enumerate(paths):
        with rasterio.open(p) as src:
            data = src.read(window=Window(c0, r0, c1 - c0, r1 - r0))
        out[:, y] = data[:, rows - r0, cols - c0].T
    return out


def _point_embeddings(store: EsdStore, lon: Any, lat: Any, years: Any, strategy: PointStrategy) -> np.ndarray:
    return store.read_points(lon, lat, years, strategy=strategy).embeddings


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """(median seconds over ``repeats`` runs after one warm-up, last result)."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def timed_pair(fa: Callable[[], Any], fb: Callable[[], Any], repeats: int) -> tuple[float, float, Any, Any]:
    """Median seconds of ``fa`` and ``fb`` run alternately (so load on a shared machine hits both alike),
    after one warm-up each; and their last results."""
    ra, rb = fa(), fb()
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ra = fa()
        t1 = time.perf_counter()
        rb = fb()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return statistics.median(ta), statistics.median(tb), ra, rb


def folder_bytes(paths: list[Path]) -> int:
    return int(sum(p.stat().st_size for p in paths))


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    series = monthly_series(SAMPLES)
    flat = series.reshape(-1, CODE_DIM)
    mean, std = flat.mean(axis=0), flat.std(axis=0) + 1e-6
    win_px = math.ceil(args.window_km * 1000 / RES)  # 334 px for 10 km
    tile_px = args.tile_px
    if win_px + 2 * args.offset_px > tile_px:
        raise SystemExit(f"window {win_px} px + offset does not fit in tile {tile_px} px")
    years = list(range(2010, 2010 + args.years))
    transform = Affine(RES, 0, ORIGIN[0], 0, -RES, ORIGIN[1])
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-store-"))
    esd_dir, raw_dir = work / "esd", work / "raw"
    esd_dir.mkdir(parents=True, exist_ok=True)
    raw_dir.mkdir(parents=True, exist_ok=True)
    esd_paths, raw_paths, truth_idx, truth_raw = [], [], [], []
    off = args.offset_px
    win = Window(off, off, win_px, win_px)
    t0 = time.perf_counter()
    for year in years:
        raw, indices, qa = make_year(rng, series, tile_px, mean, std)
        esd_paths.append(
            write_tile(esd_dir, "MT-BENCH", year, indices, qa, np.ones(qa.shape, bool), CRS_UTM, transform)
        )
        raw_paths.append(write_raw(raw_dir, year, raw, transform))
        truth_idx.append(indices[:, off : off + win_px, off : off + win_px])
        truth_raw.append(raw[:, off : off + win_px, off : off + win_px])
    build_s = time.perf_counter() - t0

    store = EsdStore.open(esd_dir)
    left, top = transform @ (off, off)
    bbox = (left, top - win_px * RES, left + win_px * RES, top)

    def esd_window() -> np.ndarray:
        res = store.read_window(bbox, CRS_UTM, years=years)
        return res.embeddings  # decoded (Y, 12, 6, H, W) float32

    def raw_window() -> np.ndarray:
        return read_raw_window(raw_paths, win)

    esd_s, raw_s, emb, raw_arr = timed_pair(esd_window, raw_window, args.repeats)
    t_idx = store.read_window(bbox, CRS_UTM, years=years)
    if emb.shape != (len(years), STEPS, CODE_DIM, win_px, win_px) or not np.array_equal(
        t_idx.indices, np.stack(truth_idx)
    ):
        raise SystemExit("ESD window does not match the written indices")
    if not np.array_equal(raw_arr.reshape(len(years), STEPS * CODE_DIM, win_px, win_px), np.stack(truth_raw)):
        raise SystemExit("raw window does not match the written values")
    idx_s, _ = timed(lambda: store.read_window(bbox, CRS_UTM, years=years).indices, args.repeats)

    # points: random pixels of the window
    rows = rng.integers(off, off + win_px, args.points)
    cols = rng.integers(off, off + win_px, args.points)
    xs, ys = transform @ (cols + 0.5, rows + 0.5)
    lon, lat = rasterio.warp.transform(CRS_UTM, "EPSG:4326", xs.tolist(), ys.tolist())
    points: dict[str, float] = {}
    strategies: tuple[PointStrategy, ...] = ("block", "window", "pixel")
    for strategy in strategies:
        s, pres = timed(partial(_point_embeddings, store, lon, lat, years, strategy), args.repeats)
        points[f"esd_{strategy}_s"] = round(s, 4)
    pr = store.read_points(lon, lat, years)
    expect = np.stack([t[:, rows - off, cols - off].T for t in truth_idx], axis=1)  # (P, Y, 12)
    if not np.array_equal(pr.indices, expect):
        raise SystemExit("ESD points do not match the written indices")
    s, _ = timed(lambda: read_raw_points(raw_paths, rows, cols), args.repeats)
    points["raw_window_s"] = round(s, 4)

    http: dict[str, Any] = {}
    if args.http:
        from ml.esd.store import write_catalog
        from testkit.range_server import serve_folder

        write_catalog(esd_dir)
        with serve_folder(esd_dir) as server:
            remote = EsdStore.open(server.url)
            before = server.bytes_sent
            remote.read_window(bbox, CRS_UTM, years=years)  # first lookup: nothing cached by GDAL yet
            sent = server.bytes_sent - before
            s, remb = timed(lambda: remote.read_window(bbox, CRS_UTM, years=years).embeddings, args.repeats)
            if not np.array_equal(remb, emb):
                raise SystemExit("HTTP window differs from the local one")
            ps, _ = timed(lambda: remote.read_points(lon, lat, years).embeddings, args.repeats)
        http = {
            "window_s": round(s, 4),
            "window_pixel_years_per_s": round(len(years) * win_px * win_px / s),
            "window_bytes_first_lookup": int(sent),
            "points_s": round(ps, 4),
        }

    pixel_years = len(years) * win_px * win_px
    esd_bytes, raw_bytes = folder_bytes(esd_paths), folder_bytes(raw_paths)
    out = {
        "machine": args.machine or f"{platform.machine()} {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "data": f"{SAMPLES.name}: {series.shape[0]} real MODIS pixel-years x 12 monthly steps x 6 bands",
        "window_px": win_px,
        "tile_px": tile_px,
        "years": len(years),
        "pixel_years": pixel_years,
        "repeats": args.repeats,
        "build_s": round(build_s, 2),
        "esd_window_s": round(esd_s, 4),
        "esd_window_indices_only_s": round(idx_s, 4),
        "raw_window_s": round(raw_s, 4),
        "esd_pixel_years_per_s": round(pixel_years / esd_s),
        "raw_pixel_years_per_s": round(pixel_years / raw_s),
        "speedup_read": round(raw_s / esd_s, 2),
        "esd_bytes": esd_bytes,
        "raw_bytes": raw_bytes,
        "esd_bytes_per_pixel_year": round(esd_bytes / (len(years) * tile_px * tile_px), 2),
        "raw_bytes_per_pixel_year": round(raw_bytes / (len(years) * tile_px * tile_px), 2),
        "size_ratio": round(raw_bytes / esd_bytes, 2),
        "points": args.points,
        "points_lookup": points,
        "http": http,
    }
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_store", description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10, help="years in both stores")
    parser.add_argument("--window-km", type=float, default=10.0, help="side of the looked-up window")
    parser.add_argument("--tile-px", type=int, default=512, help="side of each tile (the window sits inside)")
    parser.add_argument(
        "--offset-px", type=int, default=57, help="window offset from the tile corner (off-grid)"
    )
    parser.add_argument("--points", type=int, default=1000, help="random points for the point lookup")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median) after one warm-up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-http", dest="http", action="store_false", help="skip the local HTTP store run")
    parser.add_argument("--workdir", default=None, help="keep the stores here (default: a temp dir, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--machine", default=None, help="machine description recorded with the figures")
    args = parser.parse_args(argv)
    json.dump(run(args), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
