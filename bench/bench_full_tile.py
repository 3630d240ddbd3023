"""One official-size ESD tile (3600 x 3600 px at 30 m) x 25 years x 5,000 labels through one Celery worker.

The store is :mod:`bench.full_store` (a mosaic of real encoded Colorado tiles, years cycled; built
once into ``$ESD_FULL_STORE``). The analysis: AOI = the tile's footprint, 2000-2024, the store's
5,000 k-means labels (5 classes, timing labels, not truth), default parameters: the whole pipeline
(lookup, TasGen on the labels, classification of every pixel-year, temporal step, change products,
COGs, statistics) in one real Celery worker process (``-c 1``, single-threaded BLAS/OpenMP) on Redis
and PostGIS, exactly as in production.

Figures: wall time from the create call to ``done`` (goal <= 1800 s) and the worker's peak memory
(RSS of the worker and its pool child summed, sampled every 0.5 s; goal < 4 GiB), per-stage seconds
(``Analysis.timings``) and the worker's CPU seconds (what the wall time would be on a quiet machine). The run is **checked**: every pixel-year of every published land-cover COG
is a class or nodata, classified exactly where the AOI holds valid ESD data (read from the store
tiles), and the statistics add up (classes = total per year = the area of the classified pixels;
classified + nodata = the grid's area).

Usage (``--size``/``--years`` run a cut-down store and record nothing; ``--profile`` samples the
worker with py-spy into ``DIR/worker.txt``, collapsed stacks)::

    ESD_FULL_STORE=/work/cache/full_store ESD_BENCH_DB=esd_fulltile CELERY_BROKER_URL=redis://127.0.0.1:6379/4 \\
        nice -n 5 .venv/bin/python -m bench.bench_full_tile [--size 1024 --years 5] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.test")
DB_NAME = os.environ.get("ESD_BENCH_DB", "esd_bench")
os.environ["DATABASE_URL"] = f"postgis://postgres@127.0.0.1:5432/{DB_NAME}"
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
# a whole MGRS tile is ~11,700 km2, above the default limit of 10,000
os.environ.setdefault("ESD_AOI_MAX_KM2", "15000")
QUEUE = f"esd-full-{uuid.uuid4().hex[:6]}"
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = QUEUE
WORK = Path(os.environ.get("ESD_BENCH_DIR") or tempfile.mkdtemp(prefix="esd-full-"))
os.environ["MEDIA_ROOT"] = str(WORK / "media")
SINGLE_THREAD = {
    v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
}


def ensure_database() -> None:
    """Create the benchmark's database when missing (bench_analysis is not imported: it sets the queue)."""
    query = f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres"]
    found = subprocess.run([*psql, "-tAc", query], capture_output=True, text=True, check=True)
    if not found.stdout.strip():
        subprocess.run([*psql, "-c", f"CREATE DATABASE {DB_NAME}"], check=True, capture_output=True)


class ProcessSampler(threading.Thread):
    """Peak summed RSS and summed CPU seconds (user + system) of a process and its children.

    Sampled every ``every`` seconds; a child's CPU time counts with its last sample, so a child that
    ends between samples loses at most ``every`` seconds. CPU seconds do not grow with the machine's
    load as wall time does: on a quiet machine the job's wall time is about its CPU time.
    """

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu.values())

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss = 0
                for p in procs:
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
                    rss += p.memory_info().rss
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            self.stop.wait(self.every)


def run(store: Path, years: tuple[int, int], profile: Path | None) -> dict[str, Any]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from monitoring.models import EsdTile
    from monitoring.services.analyses import analysis_create
    from monitoring.services.aois import aoi_create
    from monitoring.services.esd_catalog import esd_index
    from monitoring.services.labels import labelset_import
    from testkit.workers import start_worker, stop_worker
    from webapp.celery import app

    call_command("migrate", verbosity=0)
    app.conf.task_default_queue = QUEUE
    owner, _ = get_user_model().objects.get_or_create(username=f"bench-{uuid.uuid4().hex[:6]}")
    esd_index(location=str(store))
    tile_id = json.loads((store / "catalog.json").read_text())["tiles"][0]["tile_id"]
    tile = EsdTile.objects.filter(tile_id=tile_id).order_by("year")[0]
    footprint = json.loads(tile.footprint.geojson)  # the tile's outline: AOI = the whole tile
    aoi, _ = aoi_create(owner=owner, name="full tile", geometry=footprint)
    label_set, report = labelset_import(
        owner=owner, name="full tile", filename="labels.csv", content=(store / "labels.csv").read_bytes()
    )
    # a loaded machine starts a worker slowly (90 s were not enough at load 17)
    worker = start_worker({**os.environ, **SINGLE_THREAD}, QUEUE, WORK / "worker.log", timeout=600)
    spy = None
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(worker.proc.pid),
                "--subprocesses",
                "--rate",
                "20",
                "--format",
                "raw",
                "-o",
                str(profile / "worker.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    sampler = ProcessSampler(worker.proc.pid)
    sampler.start()
    try:
        t0 = time.perf_counter()
        analysis = analysis_create(
            owner=owner, aoi=aoi, label_set=label_set, start_year=years[0], end_year=years[1], parameters={}
        )
        while True:
            time.sleep(1.0)
            analysis.refresh_from_db()
            if analysis.status in ("done", "failed", "cancelled"):
                break
        wall = time.perf_counter() - t0
    finally:
        sampler.stop.set()
        sampler.join()
        if spy is not None:
            spy.terminate()
            spy.wait(timeout=60)
        stop_worker(worker)
    grid = analysis.stats.get("grid", {})
    n_years = years[1] - years[0] + 1
    row: dict[str, Any] = {
        "status": analysis.status,
        "error": analysis.error_message,
        "wall_s": round(wall, 1),
        "worker_peak_rss_mib": round(sampler.peak / 2**20),
        "worker_cpu_s": round(sampler.cpu_s, 1),
        "stage_s": analysis.timings,
        "labels": report["accepted"],
        "years": list(years),
        "grid": grid,
        "pixel_years": grid.get("width", 0) * grid.get("height", 0) * n_years,
        "aoi_km2": round(aoi.area_km2, 1),
    }
    (WORK / "run.json").write_text(json.dumps({**row, "analysis_id": analysis.pk}, indent=1))
    if analysis.status == "done":
        row["check"] = check_results(analysis, store)
    return row


def check_results(analysis, store: Path) -> dict[str, Any]:
    """Every pixel-year classified or nodata (classified exactly where the AOI has ESD data); stats add up."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    from ml.change import NODATA_CLASS, pixel_area_ha
    from ml.esd.tiles import tile_filename
    from monitoring.models import MapProduct
    from monitoring.storage.inputs import AnalysisInputs
    from monitoring.storage.paths import media_file

    inputs = AnalysisInputs(analysis)
    grid, names = inputs.grid, inputs.class_names
    inside = grid.aoi_mask(inputs.aoi_geometry)
    area = pixel_area_ha(grid.affine, grid.crs, grid.height, grid.width)
    areas = analysis.stats["areas"]
    tile_id = json.loads((store / "catalog.json").read_text())["tiles"][0]["tile_id"]
    problems: list[str] = []
    per_year = []
    for j, year in enumerate(inputs.years):
        product = MapProduct.objects.get(analysis=analysis, kind="landcover", year=year)
        with rasterio.open(media_file(product.path)) as src:
            classes = src.read(1)
        with rasterio.open(store / tile_filename(tile_id, year)) as src:
            col = round((grid.affine.c - src.transform.c) / src.transform.a)
            row = round((grid.affine.f - src.transform.f) / src.transform.e)
            valid = np.zeros((grid.height, grid.width), dtype=bool)
            for top in range(0, grid.height, 512):  # strips: 12 bands of a whole tile are 311 MB
                h = min(512, grid.height - top)
                data = src.read(
                    list(range(1, 13)), window=Window(col, row + top, grid.width, h), boundless=True
                )
                valid[top : top + h] = data.any(axis=0)
        expected = inside & valid
        classified = classes < len(names)
        other = ~classified & (classes != NODATA_CLASS)
        if other.any():
            problems.append(f"{year}: {int(other.sum())} pixels neither a class nor nodata")
        if not np.array_equal(classified, expected):
            problems.append(
                f"{year}: {int((classified & ~expected).sum())} classified without data, "
                f"{int((expected & ~classified).sum())} with data not classified"
            )
        total = float(area[classified].sum())
        by_class = sum(areas["area_ha"][j].values())
        if not (
            abs(by_class - areas["total_ha"][j]) < 1e-3 * max(1.0, total)
            and abs(total - areas["total_ha"][j]) < 1e-3 * max(1.0, total)
        ):
            problems.append(
                f"{year}: classes {by_class:.1f} ha, total {areas['total_ha'][j]:.1f} ha, pixels {total:.1f} ha"
            )
        per_year.append(
            {
                "year": year,
                "classified_px": int(classified.sum()),
                "nodata_px": int((~classified).sum()),
                "classified_ha": round(total, 1),
                "nodata_ha": round(float(area[~classified].sum()), 1),
            }
        )
    grid_ha = float(area.sum())
    return {
        "ok": not problems,
        "problems": problems[:20],
        "grid_px": grid.width * grid.height,
        "grid_ha": round(grid_ha, 1),
        "aoi_ha": round(analysis.aoi.area_km2 * 100, 1),
        "classified_plus_nodata_ha": [round(y["classified_ha"] + y["nodata_ha"], 1) for y in per_year],
        "per_year": per_year,
    }


def main() -> None:
    from bench.full_store import FIRST_YEAR, SIZE, YEARS, build

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=SIZE, help="pixels a side of the store (cut-down runs)")
    parser.add_argument("--years", type=int, default=YEARS, help="years from 2000 (cut-down runs)")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the worker into this folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (media, logs)")
    args = parser.parse_args()
    ensure_database()
    store = build(args.size, args.years)
    try:
        row = run(store, (FIRST_YEAR, FIRST_YEAR + args.years - 1), args.profile)
    finally:
        if not args.keep:
            shutil.rmtree(WORK / "media", ignore_errors=True)
    row["store"] = str(store)
    row["load"] = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(json.dumps(row, indent=1))
    if (args.size, args.years) == (SIZE, YEARS):
        record_results(row)


def record_results(row: dict[str, Any]) -> None:
    """Write ``full_tile_25y`` and ``full_tile_25y_rss`` to bench/results/ (a failed or unchecked run: nothing)."""
    from bench.results import Figure, record, this_command

    if row["status"] != "done":
        return
    details = {
        k: row[k]
        for k in ("stage_s", "worker_cpu_s", "pixel_years", "labels", "grid", "aoi_km2", "load")
        if k in row
    }
    details["check"] = {k: v for k, v in row["check"].items() if k != "per_year"}
    title = "one MGRS-size tile (3600 x 3600 px) x 25 years x 5,000 labels end to end, one worker"
    record(
        Figure(
            name="full_tile_25y",
            value=row["wall_s"] if row["check"]["ok"] else float("nan"),
            unit="s",
            goal="<= 1800",
            title=title,
            command=this_command(),
            section="full_tile",
            details=details,
        ),
        Figure(
            name="full_tile_25y_rss",
            value=row["worker_peak_rss_mib"],
            unit="MiB",
            goal="< 4096",
            title=f"{title}: worker peak RSS (worker + pool child)",
            command=this_command(),
            section="full_tile",
        ),
    )


if __name__ == "__main__":
    main()
