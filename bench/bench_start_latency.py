"""Start/cancel cycles on the embedded SpatiaLite database while a worker process writes (issue 17).

``python -m bench.bench_start_latency [--cycles 100] [--no-record]``

Builds a fresh SpatiaLite database (``make run``'s default: SpatiaLite + the filesystem broker) in a
temporary folder, uploads the Mato Grosso AOI and labels through the services, catalogs seven years,
then runs two processes against the one database file:

- the **writer** (``--role writer``) does, in a loop, the database writes of a pipeline worker with
  the worker's own code and transactions: ``timing.record_timing`` (read-modify-write under
  ``select_for_update``), the relabel stage's replace-all of the dynamic samples
  (``dynamic_samples.samples_replace``: label x year rows, in transactions of 200) and ``state.set_progress``;
- the **web** (this process) starts an analysis through ``POST /api/analyses/`` (token auth, the
  real middleware and view; the start task goes to the filesystem broker) and cancels it through
  ``POST /api/analyses/<id>/cancel/``, ``--cycles`` times.

It prints one JSON report: status codes, start latency (p50/p95/max ms, the web request's wall
time), and the row checks: every created analysis is stored and cancelled, and the writer's rows
are all there (its timing sum equals its loop count, its sample count one batch). With
``--record`` (default) it writes ``bench/results/start_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
UPLOADS = REPO / "tests" / "data" / "uploads"
YEARS = range(2007, 2014)
P95_GOAL_MS = 300.0


def configure(folder: Path) -> None:
    """Point Django at the SpatiaLite file and filesystem broker under ``folder`` (before setup)."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webapp.settings.base",
        DATABASE_URL=f"spatialite:///{folder / 'db.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
        ESD_BROKER_DIR=str(folder / "broker"),
        MEDIA_ROOT=str(folder / "media"),
        ESD_VAR_DIR=str(folder / "var"),
        DEBUG="0",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def seed() -> dict[str, Any]:
    """Migrate, then the user (with a token), the demo AOI and labels, and a catalog of seven years."""
    from django.contrib.auth import get_user_model
    from django.contrib.gis.geos import Polygon
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from monitoring.models import EsdTile
    from monitoring.services.aois import aoi_import
    from monitoring.services.labels import labelset_import

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-pass-2026-x")
    token = Token.objects.create(user=user)
    aoi, _ = aoi_import(
        owner=user, filename="aoi_mt.geojson", content=(UPLOADS / "aoi_mt.geojson").read_bytes(), name=""
    )
    label_set, _ = labelset_import(
        owner=user,
        name="labels",
        filename="labels_mt.csv",
        content=(UPLOADS / "labels_mt.csv").read_bytes(),
        options={},
    )
    footprint = Polygon.from_bbox((-56.5, -12.5, -55.5, -11.5))
    footprint.srid = 4326
    for year in YEARS:  # catalog rows only: the started analyses are cancelled before any lookup
        EsdTile.objects.create(
            uri=f"/nonexistent/{year}.tif",
            tile_id="bench",
            year=year,
            footprint=footprint,
            crs_wkt="EPSG:4326",
            epsg=4326,
            transform=[0.0003, 0, -56.5, 0, -0.0003, -11.5],
            width=3333,
            height=3333,
            resolution=0.0003,
        )
    return {"user": user.pk, "aoi": aoi.pk, "label_set": label_set.pk, "token": token.key}


def writer(analysis_pk: int, stop: Path) -> dict[str, object]:
    """The worker's writes in a loop until ``stop`` exists; returns loops, batch size and errors."""
    from django.contrib.gis.geos import Point
    from django.db.utils import OperationalError

    from monitoring.models import Analysis, DynamicSample, Label
    from monitoring.services.dynamic_samples import samples_replace
    from monitoring.services.pipeline import state, timing

    analysis = Analysis.objects.get(pk=analysis_pk)
    labels = list(Label.objects.filter(label_set_id=analysis.label_set_id))
    loops, errors, held = 0, [], []
    while not stop.exists():
        loops += 1
        rows = [
            DynamicSample(
                analysis_id=analysis_pk,
                label=label,
                year=year,
                geometry=Point(-55.95, -12.02, srid=4326),
                static_class=label.klass,
                dynamic_class=label.klass,
                anomaly_score=float(loops),
            )
            for label in labels
            for year in YEARS
        ]
        try:
            timing.record_timing(analysis_pk, "relabel", 1.0)
            t0 = time.perf_counter()
            samples_replace(analysis_pk, rows)  # dynamic_samples_replace's writes
            held.append((time.perf_counter() - t0) * 1000)
            state.set_progress(analysis_pk, "relabel", (loops % 100) / 100)
        except OperationalError as exc:
            errors.append(str(exc))
    return {
        "loops": loops,
        "batch": len(labels) * len(YEARS),
        "errors": errors,
        "samples_replace_ms": {"p50": round(statistics.median(held), 1), "max": round(max(held), 1)},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cycles(ids: dict[str, Any], count: int) -> dict[str, Any]:
    """``count`` start + cancel cycles through the API; status codes and start latencies (ms)."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {ids['token']}")
    body = {"aoi": ids["aoi"], "label_set": ids["label_set"], "start_year": 2007, "end_year": 2013}
    body["parameters"] = {"tasgen": {"epochs": 5}}
    latencies, codes, created = [], [], []
    assert client.get("/api/analyses/").status_code == 200  # warm: imports and first queries untimed
    for _ in range(count):
        t0 = time.perf_counter()
        response = client.post("/api/analyses/", body, content_type="application/json")
        latencies.append((time.perf_counter() - t0) * 1000)
        codes.append(response.status_code)
        if response.status_code == 201:
            pk = response.json()["id"]
            created.append(pk)
            codes.append(client.post(f"/api/analyses/{pk}/cancel/").status_code)
    return {"latencies_ms": latencies, "codes": codes, "created": created}


def run(count: int) -> dict[str, Any]:
    """The whole scenario in a fresh temporary folder; the report (see the module docstring)."""
    folder = Path(tempfile.mkdtemp(prefix="esd-start-latency-"))
    configure(folder)
    from monitoring.models import Analysis, DynamicSample

    ids = seed()
    target = Analysis.objects.create(
        owner_id=ids["user"],
        aoi_id=ids["aoi"],
        label_set_id=ids["label_set"],
        start_year=2007,
        end_year=2013,
        status=Analysis.Status.RUNNING,
        stage=Analysis.Stage.RELABEL,
        name="written by the worker",
    )
    stop, out = folder / "stop", folder / "writer.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_start_latency", "--role", "writer", "--folder", str(folder)]
        + ["--analysis", str(target.pk)],
        cwd=REPO,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 60
    while DynamicSample.objects.filter(analysis=target).count() == 0:  # the writer is writing
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the writer process did not start writing")
        time.sleep(0.1)
    web = cycles(ids, count)
    stop.touch()
    proc.wait(timeout=120)
    written = json.loads(out.read_text())
    target.refresh_from_db()
    created = web["created"]
    stored = Analysis.objects.filter(pk__in=created)
    latencies = web["latencies_ms"]
    codes: list[int] = web["codes"]
    return {
        "cycles": count,
        "status_codes": {str(c): codes.count(c) for c in sorted(set(codes))},
        "server_errors": sum(c >= 500 for c in codes),
        "start_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "max": round(max(latencies), 1),
        },
        "analyses_created": len(created),
        "analyses_stored": stored.count(),
        "analyses_cancelled": stored.filter(status=Analysis.Status.CANCELLED).count(),
        "writer_loops": written["loops"],
        "writer_errors": written["errors"],
        "writer_timing_sum": target.timings.get("relabel"),
        "writer_samples": DynamicSample.objects.filter(analysis=target).count(),
        "writer_batch": written["batch"],
        "writer_samples_replace_ms": written["samples_replace_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--no-record", action="store_true", help="print the report only")
    parser.add_argument("--role", choices=["web", "writer"], default="web", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--analysis", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "writer":
        configure(args.folder)
        (args.folder / "writer.json").write_text(json.dumps(writer(args.analysis, args.folder / "stop")))
        return
    report = run(args.cycles)
    print(json.dumps(report, indent=1))
    if not args.no_record:
        from bench.results import Figure, record

        record(
            Figure(
                name="start_latency",
                value=float(report["start_ms"]["p95"]),
                unit="ms",
                goal=f"<= {P95_GOAL_MS:.0f}",
                title="Start an analysis on SpatiaLite while a worker writes (p95 of 100 start/cancel cycles)",
                command=f"python -m bench.bench_start_latency --cycles {args.cycles}",
                section="faults_security_load",
                details=report,
            )
        )


if __name__ == "__main__":
    main()
