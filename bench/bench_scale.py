"""Scale-out: the same analysis with 1 and 2 Celery worker processes, ESD store on disk and over HTTP.

The store: the real Mato Grosso demo ESD tiles (MODIS 231.66 m, sinusoidal; encoded by ESDNet)
resampled by nearest neighbour onto a 30 m grid and mirror-repeated over ``--km`` x ``--km`` (default
20 km: 667 x 667 px, 3 x 3 analysis windows of 256 px), written as a 2 x 2 mosaic of ESD tiles per
year (``ml.esd.tiles.write_tile``). Pixels of the original demo extent keep their real codes, so the
real labels (crop year 2011-12) sit on their own pixels; the repeats are copies. The analysis: AOI =
the whole mosaic, 2007-2013, demo labels, TasGen with ``--epochs``; every worker process runs
single-threaded (BLAS/OpenMP threads 1, classifier ``n_jobs`` 1), so workers are the unit of scale. Each run starts from an empty stage
cache in a fresh database; the wall time is ``finished_at - created_at`` of the analysis, created by a
client that has the task modules loaded (as the web server has). The workers' logs give each task's
start and end (``timeline``) and the busy share of the worker processes (``busy``).

HTTP: the same folder behind a local HTTP server with range requests (``testkit/range_server.py``;
GDAL reads it with /vsicurl/), indexed from its ``catalog.json``.

Each 2-worker run is compared with the 1-worker run of the same store just before it: ``speedup``
(wall) and ``classify_windows_speedup`` (first classify window start to last end); ``task_s`` is the
summed task time (a 2-worker run well above its 1-worker run shared the cores with something else).

Run: ``.venv/bin/python -m bench.bench_scale [--km 20] [--epochs 30] [--runs disk:1,disk:2,http:1,http:2]``
(``store:workers[xconcurrency]``); prints JSON, writes ``var/bench/scale.json`` and, per store with a
1- and 2-worker pair, ``bench/results/scale_2_workers_<store>.json`` (the median speed-up of its
pairs; figures in ``docs/benchmarks/scale_out.md``). ``ESD_BENCH_DB`` and ``CELERY_BROKER_URL`` name
the database and broker (see ``bench/bench_load.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
from bench.bench_load import (  # noqa: E402
    OUT,
    Site,
    create_analysis,
    demo_store,
    make_site,
    mt_labels_csv,
    wait_analysis,
    workers,
)

RES = 30.0  # metres: the ESD grid
TILE_SPLIT = 2  # tiles per side of the mosaic (per year)
SINGLE_THREAD = {
    v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
}


def build_store(folder: Path, km: float) -> tuple[Path, tuple[float, float, float, float]]:
    """Write the 30 m mirror-repeated mosaic of the demo tiles; returns (folder, lon/lat bbox of it)."""
    import rasterio
    from affine import Affine
    from rasterio.warp import transform_bounds

    from ml.esd.store import write_catalog
    from ml.esd.tiles import read_tile, write_tile

    src_folder = demo_store()
    size = int(round(km * 1000 / RES))
    done = folder / "done.json"
    sources = sorted(src_folder.glob("SDC30_EBD_V001_*.tif"))
    with rasterio.open(sources[0]) as src:
        crs, t = src.crs, src.transform
        h, w = src.height, src.width
    x0, y0, step = t.c, t.f, t.a
    bounds = transform_bounds(crs, "EPSG:4326", x0, y0 - size * RES, x0 + size * RES, y0)
    if done.exists() and json.loads(done.read_text()) == {"km": km, "sources": len(sources)}:
        return folder, bounds
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # source pixel of every 30 m pixel: nearest, then mirror-repeat past the demo's edge
    centres = (np.arange(size) + 0.5) * RES / step
    cols = _mirror(np.floor(centres).astype(int), w)
    rows = _mirror(np.floor(centres).astype(int), h)
    part = -(-size // TILE_SPLIT)
    for path in sources:
        tile = read_tile(str(path))
        year = int(path.stem.rsplit("_", 1)[1])
        idx = tile.indices[:, rows][:, :, cols]  # (12, size, size)
        qa = tile.qa[rows][:, cols]
        valid = tile.valid[rows][:, cols]
        for i in range(TILE_SPLIT):
            for j in range(TILE_SPLIT):
                r, c = slice(i * part, (i + 1) * part), slice(j * part, (j + 1) * part)
                transform = Affine(RES, 0, x0 + j * part * RES, 0, -RES, y0 - i * part * RES)
                write_tile(
                    folder, f"MT-SCALE-{i}-{j}", year, idx[:, r, c], qa[r, c], valid[r, c], crs, transform
                )
    write_catalog(folder)
    done.write_text(json.dumps({"km": km, "sources": len(sources)}))
    return folder, bounds


def _mirror(i: np.ndarray, n: int) -> np.ndarray:
    period = 2 * n
    k = i % period
    return np.where(k < n, k, period - 1 - k)


LOG_LINE = re.compile(  # Django's log format: "2026-11-25 16:15:19,592 INFO celery.app.trace: Task ..."
    r"^\[?(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\b.*Task (?P<task>[\w.]+)\[[^\]]+\] "
    r"succeeded in (?P<s>[\d.]+)s"
)


def task_timeline(logs: list[Path], created_at: float) -> list[dict]:
    """Every task the workers finished: worker, task, start and end (s after the analysis was created).

    Read from the ``succeeded in X s`` log lines (end = log time, start = end - X); sorted by start.
    """
    rows = []
    for i, path in enumerate(logs):
        for line in path.read_text(errors="replace").splitlines():
            m = LOG_LINE.match(line)
            if not m:
                continue
            end = datetime.strptime(m["at"], "%Y-%m-%d %H:%M:%S,%f").timestamp() - created_at
            rows.append(
                {"worker": i, "task": m["task"], "start": round(end - float(m["s"]), 2), "end": round(end, 2)}
            )
    return sorted(rows, key=lambda r: r["start"])


def busy_summary(timeline: list[dict], n_workers: int, wall: float) -> dict:
    """Per task name: count and summed seconds; and the share of ``n_workers x wall`` spent in tasks."""
    per: dict[str, dict] = {}
    for r in timeline:
        d = per.setdefault(r["task"], {"n": 0, "s": 0.0, "first_start": r["start"], "last_end": r["end"]})
        d["n"] += 1
        d["s"] = round(d["s"] + r["end"] - r["start"], 2)
        d["first_start"] = min(d["first_start"], r["start"])
        d["last_end"] = max(d["last_end"], r["end"])
    busy = sum(r["end"] - r["start"] for r in timeline)
    return {"tasks": per, "busy_share": round(busy / (n_workers * wall), 3) if wall else None}


class WarmSite(Site):
    """The site whose one-shot Django processes import the task modules first, as a running web
    server has them loaded: the analysis' clock (``created_at``) does not include the ~2 s of
    importing torch and the pipeline that a cold client pays between creating and enqueueing it."""

    def django(self, code: str) -> str:
        return super().django("import tasks.analysis  # noqa: F401\n" + code)


def run_once(store_location: str, bbox, labels: Path, epochs: int, n_workers: int, concurrency: int) -> dict:
    name = f"esd_bench_scale_{'http' if store_location.startswith('http') else 'disk'}"
    site = make_site(name, Path(store_location) if not store_location.startswith("http") else store_location)
    site.env.update(SINGLE_THREAD)  # one core per worker process: processes, not threads, scale out
    params = {"year_start_month": 9, "tasgen": {"epochs": epochs}, "classifier": {"n_jobs": 1}}
    with workers(site, n_workers, concurrency, OUT / "scale_logs", name="scale", LOG_LEVEL="INFO") as logs:
        t0 = time.monotonic()
        pk, _ = create_analysis(WarmSite(site.env, site.media), bbox, labels, (2007, 2013), params)
        result = wait_analysis(site, pk, timeout=3600)
        result["measured_s"] = round(time.monotonic() - t0, 1)
        created = float(
            site.django(
                f"from monitoring.models import Analysis; print(Analysis.objects.get(pk={pk}).created_at.timestamp())"
            )
        )
        time.sleep(0.5)  # the last task's log line
        timeline = task_timeline(logs, created)
    if result["status"] != "done":
        raise SystemExit(f"scale run failed: {result['error']}")
    result["timeline"] = timeline
    result["busy"] = busy_summary(timeline, n_workers * concurrency, result["wall_s"] or 0.0)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--km", type=float, default=20.0, help="side of the square mosaic (km)")
    parser.add_argument("--epochs", type=int, default=30, help="TasGen epochs of the analysis")
    parser.add_argument(
        "--runs", default="disk:1,disk:2,http:1,http:2", help="store:workers[xconcurrency],..."
    )
    parser.add_argument(
        "--no-record", dest="record", action="store_false", help="do not write bench/results/*.json"
    )
    args = parser.parse_args(argv)

    folder, bbox = build_store(OUT / "scale_store", args.km)
    labels = mt_labels_csv(OUT / "scale_labels.csv")
    runs = []
    for spec in args.runs.split(","):
        store, n = spec.split(":")
        n_workers, _, conc = n.partition("x")
        row = {"store": store, "workers": int(n_workers), "concurrency": int(conc or 1)}
        row["load_at_start"] = " / ".join(f"{v:.1f}" for v in os.getloadavg())
        if store == "http":
            from testkit.range_server import serve_folder

            with serve_folder(folder) as server:
                result = run_once(
                    server.url + "/", bbox, labels, args.epochs, row["workers"], row["concurrency"]
                )
                row["http_requests"], row["http_bytes"] = len(server.requests), server.bytes_sent
        else:
            result = run_once(str(folder), bbox, labels, args.epochs, row["workers"], row["concurrency"])
        row.update(result)
        row["task_s"] = round(sum(t["s"] for t in result["busy"]["tasks"].values()), 1)
        classify = result["busy"]["tasks"].get("analysis.classify_window", {})
        row["classify_windows_span_s"] = round(classify["last_end"] - classify["first_start"], 1)
        runs.append(row)
        keys = ("store", "workers", "concurrency", "wall_s", "task_s", "classify_windows_span_s", "windows")
        print(
            json.dumps({k: row[k] for k in keys}),
            flush=True,
        )
    # each run against the 1-worker run of the same store just before it (pairs run back to back)
    last_single: dict[str, dict] = {}
    for r in runs:
        if r["workers"] == 1 and r["concurrency"] == 1:
            last_single[r["store"]] = r
            continue
        one = last_single.get(r["store"])
        r["speedup"] = round(one["wall_s"] / r["wall_s"], 2) if one and r["wall_s"] else None
        r["classify_windows_speedup"] = (
            round(one["classify_windows_span_s"] / r["classify_windows_span_s"], 2) if one else None
        )
    report = {
        "store": {
            "km": args.km,
            "px": int(round(args.km * 1000 / RES)),
            "resolution_m": RES,
            "tiles_per_year": TILE_SPLIT**2,
            "bbox_lonlat": [round(v, 5) for v in bbox],
        },
        "epochs": args.epochs,
        "runs": runs,
        "machine": f"{platform.node()}: {os.cpu_count()} CPUs (2-core CPU dev machine, shared)",
        "command": "python -m bench.bench_scale " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scale.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    if args.record:
        record_figures(report)
    return report


def record_figures(report: dict) -> None:
    """``bench/results/scale_2_workers_<store>.json``: the median 2-worker speed-up of each store over
    its pairs of runs, with every pair's walls, summed task times and busy shares."""
    from bench.results import Figure, record, this_command

    figures = []
    for store in ("disk", "http"):
        pairs = [r for r in report["runs"] if r["store"] == store and r.get("speedup")]
        if not pairs:
            continue
        ones = [r for r in report["runs"] if r["store"] == store and r["workers"] == 1]
        speedups = sorted(r["speedup"] for r in pairs)
        figures.append(
            Figure(
                name=f"scale_2_workers_{store}",
                value=float(np.median(speedups)),
                unit="x",
                goal=">= 1.8",
                title=f"2 workers vs 1, whole job, {report['store']['km']:g} x {report['store']['km']:g} km x 7 "
                f"years, store {'on disk' if store == 'disk' else 'over HTTP range requests'} (median of "
                f"{len(pairs)} pair{'s' if len(pairs) > 1 else ''})",
                command=this_command(),
                section="scale_out",
                details={
                    "speedups": speedups,
                    "wall_1_worker_s": [r["wall_s"] for r in ones],
                    "wall_2_workers_s": [r["wall_s"] for r in pairs],
                    "task_s_1_worker": [r["task_s"] for r in ones],
                    "task_s_2_workers": [r["task_s"] for r in pairs],
                    "busy_share_2_workers": [r["busy"]["busy_share"] for r in pairs],
                    "load_at_start": [r.get("load_at_start") for r in report["runs"] if r["store"] == store],
                    "windows": pairs[0].get("windows"),
                    "note": "a 2-worker run whose summed task time is well above its 1-worker run's shared "
                    "the cores with other jobs",
                },
            )
        )
    record(*figures)


if __name__ == "__main__":
    main()
