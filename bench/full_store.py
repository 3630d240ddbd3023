"""A full-size ESD store for benchmarks: one official-size tile (3600 x 3600 px at 30 m) x 25 years + 5,000 labels.

Not real data of one place: a **mosaic of real encoded tiles**. The source is the Colorado Landsat
demo store (61 x 61 px, 30 m, EPSG:32613, 2008-2012, encoded by the shipped ESDNet from the real
Landsat stack: ``ml.esd.encode demo``). Every pixel of the 3600 x 3600 grid takes the codes of one
source pixel, the source mirror-repeated (flipped at each edge, like ``bench_scale``), so every
pixel-year is a real ESD pixel-year; the 5 real years are **cycled** over 2000-2024 (year ``2000 + k``
is real year ``2008 + k % 5``). The grid starts at the source tile's upper-left corner.

Layout as the app expects (``docs/esd_format.md``): ``SDC30_EBD_V001_{TILE}_{YYYY}.tif``, 13 uint16
bands (12 FSQ indices + QA), plus ``catalog.json`` (``python -m ml.esd.store catalog``). Even years
are written **like official tiles** (DEFLATE, 256 px blocks, no overviews, no producer tag: the
catalog lists them as ``official``), odd years by our writer (``ml.esd.tiles.write_tile``: ZSTD COG
with nearest overviews). ``labels.csv``: 5,000 random valid pixels whose 5 classes come from k-means
of their real 2010 embedding: realistic sizes for timing, **not** a land-cover truth.

Built once into ``$ESD_FULL_STORE`` (default ``var/bench/full_store``, outside git), in resumable,
parallel-safe steps: every tile is written atomically and skipped when present, so several builders
(``--jobs``, or several processes) may run at once and a killed build resumes. Usage::

    ESD_FULL_STORE=/work/cache/full_store .venv/bin/python -m bench.full_store [--size 3600] [--years 25] [--jobs 2]

``--size`` / ``--years`` build cut-down stores (their own folder ``<root>-<size>x<years>``) for
developing the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZE = 3600  # pixels a side of an official MGRS tile at 30 m
YEARS = 25  # 2000-2024
FIRST_YEAR = 2000
N_LABELS = 5000
N_CLASSES = 5
LABEL_YEAR = 2010  # year of the labels (the last year in cut-down stores that end before it)
TILE_ID = "CO-FULL"  # not an MGRS id: this is a mosaic, not a real tile
SOURCE = "colorado"  # demo store the codes come from
STRIP = 256  # rows written at once in the official-like tiles (one block row)


def store_root() -> Path:
    return Path(os.environ.get("ESD_FULL_STORE", REPO / "var" / "bench" / "full_store"))


def store_folder(size: int = SIZE, years: int = YEARS) -> Path:
    """The folder of a store of ``size`` px x ``years`` years (the full one is the root itself)."""
    root = store_root()
    return root if (size, years) == (SIZE, YEARS) else root.parent / f"{root.name}-{size}x{years}"


def source_store() -> Path:
    """The encoded Colorado demo store (encoded once beside the full store)."""
    folder = store_root().parent / "demo_stores" / SOURCE
    if not any(folder.glob("SDC30_EBD_V001_*.tif")):
        from ml.esd.encode import encode_demo
        from testkit import SHARED_DATA

        encode_demo(folder.parent, names=[SOURCE], shared=SHARED_DATA)
    return folder


def _mirror(i: np.ndarray, n: int) -> np.ndarray:
    k = i % (2 * n)
    return np.where(k < n, k, 2 * n - 1 - k)


def year_source(year: int, sources: list[Path]) -> Path:
    """The real tile whose codes year ``year`` carries (years cycled)."""
    return sources[(year - FIRST_YEAR) % len(sources)]


def is_official_like(year: int) -> bool:
    return year % 2 == 0


def build_year(folder: Path, year: int, size: int, sources: list[Path]) -> str:
    """Write the tile of one year unless it exists; returns what was done."""
    import rasterio
    from affine import Affine

    from ml.atomic import atomic_path
    from ml.esd.tiles import QA_BAND, read_tile, tile_filename, write_tile

    target = folder / tile_filename(TILE_ID, year)
    if target.exists():
        return f"{year}: present"
    t0 = time.perf_counter()
    src = read_tile(str(year_source(year, sources)))
    h, w = src.qa.shape
    rows, cols = _mirror(np.arange(size), h), _mirror(np.arange(size), w)
    t = src.transform
    transform = Affine(t.a, 0, t.c, 0, t.e, t.f)
    if not is_official_like(year):
        idx = src.indices[:, rows][:, :, cols]
        write_tile(
            folder, TILE_ID, year, idx, src.qa[rows][:, cols], src.valid[rows][:, cols], src.crs, transform
        )
        return f"{year}: ours (ZSTD COG) in {time.perf_counter() - t0:.0f} s"
    data = np.concatenate([src.indices, src.qa[None]])  # (13, h, w); invalid pixels are 12 zeros already
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": QA_BAND,
        "dtype": "uint16",
        "crs": src.crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "DEFLATE",
    }
    with atomic_path(target) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for r0 in range(0, size, STRIP):
            r = rows[r0 : r0 + STRIP]
            dst.write(data[:, r][:, :, cols], window=((r0, r0 + len(r)), (0, size)))
    return f"{year}: official-like (DEFLATE, no overviews) in {time.perf_counter() - t0:.0f} s"


def kmeans_labels(folder: Path, size: int, year: int, n: int = N_LABELS, seed: int = 0) -> str:
    """CSV of ``n`` random valid pixels, classes = k-means (5) of their real embedding in ``year``."""
    import rasterio
    from rasterio.warp import transform
    from sklearn.cluster import KMeans

    from ml.esd.codec import indices_to_codes
    from ml.esd.tiles import tile_filename

    rng = np.random.default_rng(seed)
    with rasterio.open(folder / tile_filename(TILE_ID, year)) as src:
        crs, t = src.crs, src.transform
        pick = np.stack([rng.integers(0, size, 4 * n), rng.integers(0, size, 4 * n)], axis=1)
        pick = np.unique(pick, axis=0)
        rng.shuffle(pick)
        values = np.stack(
            [src.read(window=((r, r + 1), (c, c + 1)))[:12, 0, 0] for r, c in pick[: 2 * n]]
        )  # (2n, 12)
    ok = values.any(axis=1)
    pick, values = pick[: 2 * n][ok][:n], values[ok][:n]
    feats = indices_to_codes(values).reshape(len(values), -1)
    classes = KMeans(N_CLASSES, n_init=4, random_state=seed).fit_predict(feats)
    xs, ys = t * (pick[:, 1] + 0.5, pick[:, 0] + 0.5)
    lon, lat = transform(crs, "EPSG:4326", list(xs), list(ys))
    lines = ["lon,lat,class,year"] + [
        f"{a:.7f},{b:.7f},cluster-{c},{year}" for a, b, c in zip(lon, lat, classes, strict=True)
    ]
    return "\n".join(lines) + "\n"


def build(size: int = SIZE, years: int = YEARS, jobs: int = 1) -> Path:
    """Build (or finish) the store of ``size`` px x ``years`` years; returns its folder."""
    from ml.atomic import write_text_atomic
    from ml.esd.store import write_catalog

    folder = store_folder(size, years)
    done = folder / "done.json"
    spec = {"size": size, "years": years, "first_year": FIRST_YEAR, "labels": N_LABELS, "source": SOURCE}
    if done.exists() and json.loads(done.read_text()) == spec:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(source_store().glob("SDC30_EBD_V001_*.tif"))
    todo = list(range(FIRST_YEAR, FIRST_YEAR + years))
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for line in pool.map(
                build_year, [folder] * len(todo), todo, [size] * len(todo), [sources] * len(todo)
            ):
                print(line, flush=True)
    else:
        for year in todo:
            print(build_year(folder, year, size, sources), flush=True)
    if not (folder / "labels.csv").exists():
        write_text_atomic(
            folder / "labels.csv", kmeans_labels(folder, size, min(LABEL_YEAR, FIRST_YEAR + years - 1))
        )
    write_catalog(folder)
    write_text_atomic(done, json.dumps(spec))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=SIZE, help="pixels a side")
    parser.add_argument("--years", type=int, default=YEARS, help="years from 2000")
    parser.add_argument("--jobs", type=int, default=1, help="tiles written in parallel")
    args = parser.parse_args()
    print(build(args.size, args.years, args.jobs))


if __name__ == "__main__":
    main()
