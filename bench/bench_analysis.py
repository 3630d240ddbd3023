"""End-to-end analysis benchmark: the Mato Grosso demo and a 10 x 10 km AOI x 10 years with 1,000 labels.

Each analysis runs through one real Celery worker process (Redis broker, PostGIS database) exactly as
in production; the figure is the wall time from the API's create call to ``done``, and the worker's
peak memory (RSS of the worker and its pool child, sampled every 0.1 s).

The 10 x 10 km store is a mosaic of real encoded tiles: the Colorado Landsat stack (61 x 61 px, 30 m,
EPSG:32613) encoded by the shipped ESDNet, repeated 6 x 6 with mirror flips to 366 x 366 px, and its
5 real years (2008-2012) cycled to 10 years. Its 1,000 labels are random pixels whose classes come
from k-means (4 clusters) of their 2010 embedding: realistic sizes and shapes for timing, not a
land-cover truth. Usage::

    DJANGO_SETTINGS_MODULE=webapp.settings.test .venv/bin/python -m bench.bench_analysis
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.test")
DB_NAME = os.environ.get("ESD_BENCH_DB", "esd_bench")
os.environ["DATABASE_URL"] = f"postgis://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
QUEUE = f"esd-bench-{uuid.uuid4().hex[:6]}"
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = QUEUE
WORK = Path(os.environ.get("ESD_BENCH_DIR", tempfile.mkdtemp(prefix="esd-bench-")))
os.environ["MEDIA_ROOT"] = str(WORK / "media")

if TYPE_CHECKING:
    from monitoring.models import Analysis


def ensure_database() -> None:
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {DB_NAME}"],
            check=True,
            capture_output=True,
        )


def mosaic_store(src_folder: Path, out: Path, repeat: int = 6, years: int = 10) -> Path:
    """Write a ``repeat x repeat`` mosaic of the real encoded Colorado tiles, cycling years."""
    import numpy as np
    import rasterio
    from affine import Affine

    from ml.esd.tiles import write_tile

    out.mkdir(parents=True, exist_ok=True)
    real = sorted(src_folder.glob("SDC30_EBD_V001_*.tif"))
    for k in range(years):
        year = 2003 + k
        with rasterio.open(real[k % len(real)]) as src:
            data, crs, t = src.read(), src.crs, src.transform
        rows = []
        for i in range(repeat):
            row = []
            for j in range(repeat):
                block = data[:, :: (-1 if i % 2 else 1), :: (-1 if j % 2 else 1)]
                row.append(block)
            rows.append(np.concatenate(row, axis=2))
        full = np.concatenate(rows, axis=1)
        valid = full[:12].any(axis=0)
        write_tile(
            out,
            "CO-MOSAIC",
            year,
            full[:12],
            full[12],
            np.asarray(valid),
            crs,
            Affine(t.a, 0, t.c, 0, t.e, t.f),
        )
    return out


def kmeans_labels(store: Path, n: int = 1000, seed: int = 0) -> bytes:
    import numpy as np
    import rasterio
    from rasterio.warp import transform
    from sklearn.cluster import KMeans

    from ml.esd.codec import indices_to_codes

    with rasterio.open(next(store.glob("*_2010.tif"))) as src:
        data, crs, t = src.read(), src.crs, src.transform
    rng = np.random.default_rng(seed)
    valid = np.argwhere(data[:12].any(axis=0))
    pick = valid[rng.choice(len(valid), n, replace=False)]
    feats = indices_to_codes(data[:12, pick[:, 0], pick[:, 1]].T).reshape(n, -1)
    classes = KMeans(4, n_init=4, random_state=seed).fit_predict(feats)
    xs, ys = t * (pick[:, 1] + 0.5, pick[:, 0] + 0.5)
    lon, lat = transform(crs, "EPSG:4326", list(xs), list(ys))
    lines = ["lon,lat,class,year"] + [
        f"{a:.7f},{b:.7f},cluster-{c},2010" for a, b, c in zip(lon, lat, classes, strict=True)
    ]
    return "\n".join(lines).encode()


def run_one(
    name: str, owner, store: Path, labels_csv: bytes, years: tuple[int, int], params: dict, worker
) -> tuple[Analysis, dict[str, Any]]:
    import psutil
    from django.contrib.gis.db.models import Extent

    from monitoring.models import EsdTile
    from monitoring.services.analyses import analysis_create
    from monitoring.services.aois import aoi_create
    from monitoring.services.esd_catalog import esd_index
    from monitoring.services.labels import labelset_import

    esd_index(location=str(store))
    tile_id = next(store.glob("*.tif")).name.split("_")[3]
    w, s, e, n = EsdTile.objects.filter(tile_id=tile_id).aggregate(x=Extent("footprint"))["x"]
    dx, dy = (e - w) * 0.01, (n - s) * 0.01
    geom = {
        "type": "Polygon",
        "coordinates": [
            [[w + dx, s + dy], [e - dx, s + dy], [e - dx, n - dy], [w + dx, n - dy], [w + dx, s + dy]]
        ],
    }
    aoi, _ = aoi_create(owner=owner, name=name, geometry=geom)
    label_set, report = labelset_import(owner=owner, name=name, filename="labels.csv", content=labels_csv)
    proc = psutil.Process(worker.proc.pid)
    t0 = time.perf_counter()
    analysis = analysis_create(
        owner=owner, aoi=aoi, label_set=label_set, start_year=years[0], end_year=years[1], parameters=params
    )
    peak = 0
    while True:
        analysis.refresh_from_db()
        rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
        peak = max(peak, rss)
        if analysis.status in ("done", "failed", "cancelled"):
            break
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    grid = analysis.stats.get("grid", {})
    return analysis, {
        "name": name,
        "status": analysis.status,
        "error": analysis.error_message,
        "wall_s": round(wall, 1),
        "worker_peak_rss_mib": round(peak / 2**20),
        "stage_s": analysis.timings,
        "labels": report["accepted"],
        "years": years,
        "grid": grid,
        "accuracy_oa": analysis.stats.get("accuracy", {}).get("oa"),
        "pixel_years": grid.get("width", 0) * grid.get("height", 0) * (years[1] - years[0] + 1),
        "aoi_km2": round(aoi.area_km2, 1),
    }


def demo_scores(analysis) -> dict:
    """Dynamic labels vs the real labels of the other crop years, and each year's map vs its labels."""
    from ml.eval.dynamic_eval import score_dynamic
    from monitoring.models import DynamicSample
    from monitoring.storage.paths import analysis_dir
    from testkit import SHARED_DATA
    from testkit.mato_grosso import loc_key, mt_points, score_maps

    frame = mt_points(SHARED_DATA)
    static = {r.loc: r.group for r in frame[frame["year"] == 2012].itertuples()}
    truth = {(r.loc, r.year): r.group for r in frame[frame["year"] != 2012].itertuples() if r.loc in static}
    pred = {
        (loc_key(s.label.geometry.x, s.label.geometry.y), s.year): s.dynamic_class
        for s in DynamicSample.objects.filter(analysis=analysis).select_related("label")
    }
    copy = {k: static[k[0]] for k in truth if k in pred}
    return {
        "dynamic_vs_truth": {
            "tasgen": score_dynamic(pred, truth, static).as_dict(),
            "static_copy": score_dynamic(copy, truth, static).as_dict(),
        },
        "map_oa_per_year": score_maps(analysis_dir(analysis.pk), analysis.label_set.class_names, SHARED_DATA),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["demo", "10km"], default=None)
    parser.add_argument(
        "--classifier",
        choices=["forest", "mlp"],
        default=None,
        help="map classifier of the runs (default: the app's); a run with this option records no figures",
    )
    args = parser.parse_args()
    params = {"classifier": {"model": args.classifier}} if args.classifier else {}
    ensure_database()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from ml.esd.encode import encode_demo
    from testkit import SHARED_DATA
    from testkit.mato_grosso import static_labels_csv
    from testkit.workers import start_worker, stop_worker
    from webapp.celery import app

    call_command("migrate", verbosity=0)
    app.conf.task_default_queue = QUEUE
    stores = WORK / "stores"
    encode_demo(stores, names=["mt-dtwsat", "colorado"], shared=SHARED_DATA)
    owner, _ = get_user_model().objects.get_or_create(username=f"bench-{uuid.uuid4().hex[:6]}")
    env = dict(os.environ)
    worker = start_worker(env, QUEUE, WORK / "worker.log")
    results = []
    try:
        if args.only in (None, "demo"):
            analysis, row = run_one(
                "MT demo (37 x 27 px x 7 years, 245 labels)",
                owner,
                stores / "mt-dtwsat",
                static_labels_csv(SHARED_DATA),
                (2007, 2013),
                params,
                worker,
            )
            row.update(demo_scores(analysis))
            results.append(row)
        if args.only in (None, "10km"):
            mosaic = mosaic_store(stores / "colorado", stores / "co-mosaic")
            results.append(
                run_one(
                    "10 x 10 km x 10 years, 1,000 labels",
                    owner,
                    mosaic,
                    kmeans_labels(mosaic),
                    (2003, 2012),
                    params,
                    worker,
                )[1]
            )
    finally:
        stop_worker(worker)
    print(json.dumps({"machine": f"{platform.node()} {os.cpu_count()} cores", "results": results}, indent=1))
    if not args.classifier:
        record_results(results)


def record_results(results: list[dict]) -> None:
    """Write the headline figures of this run to bench/results/ (see bench/results.py)."""
    from bench.results import Figure, record, this_command

    names = {
        "MT demo": ("e2e_demo", "Mato Grosso demo analysis end to end, one worker", ""),
        "10 x 10 km": (
            "e2e_10km_10y",
            "10 x 10 km x 10 years x 1,000 labels end to end, one worker",
            "<= 15",
        ),
    }
    figures = []
    for row in results:
        for prefix, (name, title, goal) in names.items():
            if row["name"].startswith(prefix) and row["status"] == "done":
                details = {k: row[k] for k in ("stage_s", "pixel_years", "labels", "grid") if k in row}
                figures.append(
                    Figure(
                        name=name,
                        value=row["wall_s"],
                        unit="s",
                        goal=goal,
                        title=title,
                        command=this_command(),
                        section="analysis",
                        details=details,
                    )
                )
                figures.append(
                    Figure(
                        name=f"{name}_worker_rss",
                        value=row["worker_peak_rss_mib"],
                        unit="MiB",
                        goal="< 2048",
                        title=f"{title}: worker peak RSS",
                        command=this_command(),
                        section="analysis",
                    )
                )
    record(*figures)


if __name__ == "__main__":
    main()
