"""CPU cost of each per-pixel stage at full-tile size, from a sample of windows (a cost model, not a run).

On the full store of :mod:`bench.full_store` (3600 x 3600 px x 25 years), measures the **CPU seconds**
(``time.process_time``, single-threaded: they do not grow with the machine's load as wall time does)
of what the pipeline does per 256 px window and per year-map, on ``--windows`` windows spread over the
tile, with the library functions the stages call:

* lookup: ``EsdStore.read_window`` (25 years) + the window's similarity/ESD preview + both ``.npz``;
* classify: decode + ``predict_proba_window`` with the default classifier (``MapperConfig``, one
  thread) fitted on 25,000 of the store's 5,000 labels x 25 years (label classes as targets: timing only);
* temporal: ``make_consistent`` of the window's (25, 5, 65,536) probabilities;
* COGs of one year-map of the whole grid: land cover (uint8, 8 px patches of random classes),
  uncertainty (float32) and ESD preview (RGBA) of random values (an upper bound for DEFLATE).

Scaled to the tile: lookup, classify and temporal x 225 windows; COGs x 25 (land cover, uncertainty,
preview) and x 24 (similarity, written like uncertainty). Run::

    ESD_FULL_STORE=/work/cache/full_store OMP_NUM_THREADS=1 .venv/bin/python -m bench.full_tile_stage_costs [--windows 4]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

WINDOWS_PER_TILE = 225  # 15 x 15 windows of 256 px cover 3600 px
YEARS = 25
TRAIN_ROWS = 25_000  # label pixel-years the timing classifier is fitted on (of 125,000: fit time)


def main() -> None:
    from affine import Affine

    from bench.full_store import FIRST_YEAR, SIZE, TILE_ID, build
    from ml.atomic import save_npz_atomic
    from ml.change import consecutive_similarity, esd_preview_rgb
    from ml.cog import write_class_cog, write_rgb_cog, write_value_cog
    from ml.esd.codec import indices_to_codes
    from ml.esd.store import EsdStore
    from ml.mapping import MapperConfig, features, fit_mapper, predict_proba_window
    from ml.temporal import TemporalConfig, estimate_transitions, make_consistent

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=4, help="windows sampled over the tile")
    args = parser.parse_args()
    folder = build()
    store = EsdStore.open(folder)
    years = list(range(FIRST_YEAR, FIRST_YEAR + YEARS))
    tile = next(t for t in store.tiles if t.tile_id == TILE_ID)
    t = tile.affine
    out: dict[str, list[float]] = {"lookup": [], "classify": [], "temporal": []}
    tmp = Path(tempfile.mkdtemp(prefix="esd-costs-"))

    # a classifier as the pipeline trains it: 5,000 label pixels x 25 years
    import csv

    rows = list(csv.DictReader((folder / "labels.csv").open()))
    pts = store.read_points([float(r["lon"]) for r in rows], [float(r["lat"]) for r in rows], years)
    names = sorted({r["class"] for r in rows})
    target = np.repeat([names.index(r["class"]) for r in rows], YEARS)
    ok = np.flatnonzero(pts.valid.ravel())
    ok = np.sort(np.random.default_rng(1).choice(ok, min(len(ok), TRAIN_ROWS), replace=False))
    x = features(indices_to_codes(pts.indices.reshape(-1, 12)[ok]))
    model = fit_mapper(x, target[ok], MapperConfig(n_jobs=1))
    transitions = estimate_transitions(np.zeros((1, 2), dtype=int), len(names), 0.5, 0.8)

    rng = np.random.default_rng(0)
    picks = rng.choice(WINDOWS_PER_TILE, args.windows, replace=False)
    for k in picks:
        r0, c0 = (k // 15) * 256, (k % 15) * 256
        h, w = min(256, SIZE - r0), min(256, SIZE - c0)
        left, top = t.c + c0 * t.a, t.f + r0 * t.e
        bbox = (left, top + h * t.e, left + w * t.a, top)
        c = time.process_time()
        res = store.read_window(bbox, tile.crs, years, tile.resolution)
        codes = np.moveaxis(indices_to_codes(res.indices), -1, 2)  # as lookup.window_features
        similarity = consecutive_similarity(codes, res.valid).astype(np.float16)
        preview = np.stack([esd_preview_rgb(codes[y], res.valid[y]) for y in range(YEARS)])
        save_npz_atomic(tmp / "f.npz", similarity=similarity, preview=preview)
        save_npz_atomic(tmp / "w.npz", indices=res.indices, valid=res.valid)
        out["lookup"].append(time.process_time() - c)
        c = time.process_time()
        codes = np.moveaxis(indices_to_codes(res.indices), -1, 2)
        probs = predict_proba_window(model, codes, res.valid, len(names))
        out["classify"].append(time.process_time() - c)
        del codes
        c = time.process_time()
        p = probs.astype(np.float16).reshape(YEARS, len(names), -1)
        make_consistent(p, res.valid.reshape(YEARS, -1), transitions, TemporalConfig())
        out["temporal"].append(time.process_time() - c)
    grid_t = Affine(t.a, 0, t.c, 0, t.e, t.f)
    classes = rng.integers(0, len(names), (SIZE, SIZE)).astype(np.uint8)  # noisy: a worst case for DEFLATE
    classes = np.repeat(np.repeat(classes[::8, ::8], 8, 0), 8, 1)[:SIZE, :SIZE]  # 8 px patches
    cog: dict[str, float] = {}
    c = time.process_time()
    write_class_cog(tmp / "lc.tif", classes, tile.crs, grid_t, ["#000000"] * len(names))
    cog["landcover"] = time.process_time() - c
    unc = rng.random((SIZE, SIZE), dtype=np.float32).astype(np.float16).astype(np.float32)
    c = time.process_time()
    write_value_cog(tmp / "unc.tif", unc, tile.crs, grid_t, np.nan)
    cog["uncertainty"] = time.process_time() - c
    rgba = rng.integers(0, 255, (4, SIZE, SIZE), dtype=np.uint8)
    c = time.process_time()
    write_rgb_cog(tmp / "rgb.tif", rgba, tile.crs, grid_t)
    cog["preview"] = time.process_time() - c
    per_window = {k: round(float(np.mean(v)), 2) for k, v in out.items()}
    tile_s = {k: round(v * WINDOWS_PER_TILE) for k, v in per_window.items()}
    tile_s["cogs"] = round(
        25 * (cog["landcover"] + cog["uncertainty"] + cog["preview"]) + 24 * cog["uncertainty"]
    )
    print(
        json.dumps(
            {
                "windows": [int(k) for k in picks],
                "cpu_s_per_window": per_window,
                "cpu_s_per_year_map": {k: round(v, 2) for k, v in cog.items()},
                "cpu_s_per_tile": tile_s,
                "load": " / ".join(f"{v:.1f}" for v in os.getloadavg()),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
