"""Load on the running web server: API reads at 50 concurrent clients, map tiles at 20, 60 s each.

Sets up a server of its own on loopback: a fresh PostGIS database ``esd_bench``, the real Mato Grosso
demo store (encoded by ESDNet; ``ESD_TEST_STORE_CACHE`` reuses an already encoded one), the demo labels
(static labels of crop year 2011-12) and AOI, one analysis computed by a real Celery worker on Redis,
then gunicorn (``webapp.wsgi``, ``--workers``) on 127.0.0.1. Debian's ``wrk`` drives it (a Lua script
cycles through the URLs and reports p50/p95/p99 from wrk's full latency histogram; non-2xx answers
and socket errors count as errors). Each run is bounded by ``--seconds``. Tiles run four ways:
``tiles_first_view`` (``--cold-seconds``) right after the analysis, with the tile cache as the worker
left it (it draws each map's first-view tiles once the analysis is done, ``--prerender`` per map:
``monitoring.services.tile_prerender``), so the URLs it did not draw render now; ``tiles_cold``
(``--cold-seconds``) from an emptied tile cache, so its first pass over the URLs renders every tile;
``tiles`` (``--seconds``) then browses the same tiles, cache hits as for users panning over maps
already drawn once; ``tiles_uncached`` (``--uncached-seconds``) runs on a server with the cache off
(``ESD_TILE_CACHE=none``: every request reads the COG and renders).

Run: ``.venv/bin/python -m bench.bench_load [--seconds 60] [--workers 4]``; prints JSON, writes
``var/bench/load.json`` and the figures ``tile_first_view_p95_ms``, ``tile_cold_render_p95_ms``,
``tile_warm_p95_ms`` and ``api_p95_ms`` to ``bench/results/``. ``ESD_BENCH_DB`` names the database
(default ``esd_bench_load``) and ``CELERY_BROKER_URL`` the broker, for several people on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = (
    str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
)
SHARED = Path(os.environ.get("ESD_SHARED_DATA", REPO / ".." / "shared" / "data"))
OUT = REPO / "var" / "bench"
DEMO_BBOX = (-55.99, -12.05, -55.91, -11.99)  # the 37 x 27 px Mato Grosso demo raster
DEMO_PARAMETERS = {"year_start_month": 9}

LUA = r"""
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
local errors = 0
response = function(status, headers, body)
  if status < 200 or status > 399 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_s": %.3f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "mean_ms": %.2f, "socket_errors": %d, "non_2xx_3xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, latency.mean / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Site:
    """Environment of the benchmark server, its worker and the setup steps (one database, one media folder)."""

    env: dict[str, str]
    media: Path

    def manage(self, *args: str) -> None:
        subprocess.run(
            [PY, "manage.py", *args], cwd=REPO, env=self.env, check=True, stdout=subprocess.DEVNULL
        )

    def django(self, code: str) -> str:
        """Run Python with Django set up in the benchmark environment; returns the last stdout line."""
        prelude = "import django; django.setup()\n"
        out = subprocess.run(
            [PY, "-c", prelude + code], cwd=REPO, env=self.env, check=True, capture_output=True, text=True
        )
        return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def make_site(name: str, store: Path | str, broker_db: int = 14) -> Site:
    """A fresh PostGIS database ``name``, a media folder under ``var/bench`` and the store ``store`` indexed."""
    import psycopg

    name = os.environ.get("ESD_BENCH_DB", name)  # several people benchmarking on one machine
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    media = OUT / name / "media"
    shutil.rmtree(media, ignore_errors=True)
    media.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings.test",
        DATABASE_URL=f"postgis://postgres@127.0.0.1:5432/{name}",
        CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", f"redis://127.0.0.1:6379/{broker_db}"),
        CELERY_TASK_DEFAULT_QUEUE=f"{name}-{os.getpid()}",
        # the production default: the test settings' 20 s (fault tests) has Redis hand any task running
        # longer to another worker while the first still runs it (two relabels, two attributions)
        CELERY_VISIBILITY_TIMEOUT="3600",
        MEDIA_ROOT=str(media),
        ESD_STORE=str(store),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        ESD_CHECK_RESPONSES="0",  # measure the app, not the test suite's schema check of every answer
    )
    site = Site(env=env, media=media)
    site.manage("migrate", "--noinput", "-v", "0")
    site.django(
        "from monitoring.services.esd_catalog import esd_index\n"
        f"r = esd_index(location={str(store)!r}); assert not r.rejected, r.rejected; print(len(r.new))"
    )
    return site


def demo_store() -> Path:
    """The encoded Mato Grosso demo store folder (encoded once into var/bench/store unless cached)."""
    cache = os.environ.get("ESD_TEST_STORE_CACHE")
    root = Path(cache) if cache else OUT / "store"
    folder = root / "mt-dtwsat"
    if not any(folder.glob("SDC30_EBD_V001_*.tif")):
        from ml.esd.encode import encode_demo

        encode_demo(root, names=["mt-dtwsat"], shared=SHARED)
    return folder


@contextmanager
def workers(
    site: Site, count: int, concurrency: int = 1, log_dir: Path | None = None, name: str = "bench", **env: str
) -> Iterator[list[Path]]:
    """``count`` Celery worker processes (each ``-c concurrency``, ``env`` added) on the site's queue.

    Yields their log files: kept in ``log_dir`` (emptied first) when given, else temporary files
    removed at exit. The workers are stopped at exit.
    """
    if log_dir is not None:
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
        logs = [log_dir / f"worker{i}.log" for i in range(count)]
    else:
        logs = []
        for i in range(count):
            fd, tmp = tempfile.mkstemp(prefix=f"{name}-worker{i}-", suffix=".log")
            os.close(fd)
            logs.append(Path(tmp))
    procs: list[subprocess.Popen] = []
    try:
        for i, path in enumerate(logs):
            with path.open("wb") as log:  # the worker holds its own descriptor
                procs.append(
                    subprocess.Popen(
                        [
                            PY,
                            "-m",
                            "celery",
                            "-A",
                            "webapp",
                            "worker",
                            "-Q",
                            site.env["CELERY_TASK_DEFAULT_QUEUE"],
                        ]
                        + ["-c", str(concurrency), "-n", f"{name}{i}-{os.getpid()}@%h", "--without-gossip"]
                        + ["--without-mingle", "--without-heartbeat", "-l", "INFO"],
                        cwd=REPO,
                        env={**site.env, **env},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 120
        while not all(" ready." in p.read_text(errors="replace") for p in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("benchmark worker did not start:\n" + logs[0].read_text()[-2000:])
            time.sleep(0.3)
        yield logs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if log_dir is None:
            for log_path in logs:
                log_path.unlink(missing_ok=True)


def create_analysis(site: Site, bbox: tuple[float, float, float, float], labels_csv: Path, years: tuple[int, int], parameters: dict) -> tuple[int, str]:  # fmt: skip
    """Owner ``bench`` with a token, the labels and AOI uploaded through the services, an analysis queued.

    Returns (analysis id, API token). The analysis task is enqueued on the site's queue.
    """
    code = f"""
import json
from pathlib import Path
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from monitoring.services.labels import labelset_import
from monitoring.services.aois import aoi_create
from monitoring.services.analyses import analysis_create
user, _ = get_user_model().objects.get_or_create(username="bench")
token, _ = Token.objects.get_or_create(user=user)
labels, _ = labelset_import(owner=user, name="bench labels", filename="labels.csv",
                            content=Path({str(labels_csv)!r}).read_bytes())
w, s, e, n = {list(bbox)!r}
aoi, _ = aoi_create(owner=user, name="bench AOI", geometry={{"type": "Polygon",
    "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}})
a = analysis_create(owner=user, aoi=aoi, label_set=labels, start_year={years[0]}, end_year={years[1]},
                    parameters={parameters!r})
print(json.dumps([a.pk, token.key]))
"""
    pk, token = json.loads(site.django(code))
    return int(pk), str(token)


def wait_analysis(site: Site, pk: int, timeout: float) -> dict:
    """Poll until the analysis is finished; returns its status, error, timings and wall time (s)."""
    code = f"""
import json, time
from monitoring.models import Analysis
deadline = time.monotonic() + {timeout}
seen = {{}}  # stage -> seconds after creation when first seen (polled every 0.2 s)
while True:
    a = Analysis.objects.get(pk={pk})
    seen.setdefault(a.stage, round((time.time() - a.created_at.timestamp()), 1))
    if a.status in ("done", "failed", "cancelled") or time.monotonic() > deadline:
        break
    time.sleep(0.2)
wall = (a.finished_at - a.created_at).total_seconds() if a.finished_at else None
order = ["queued", "lookup", "relabel", "classify", "change", "finalize", "done"]
marks = [(s, seen[s]) for s in order if s in seen]
stage_wall = {{s: round(t1 - t0, 1) for (s, t0), (_, t1) in zip(marks, marks[1:])}}
print(json.dumps({{"status": a.status, "error": a.error_message, "timings": a.timings, "wall_s": wall,
                  "stage_wall_s": stage_wall,
                  "windows": (a.stats or {{}}).get("grid", {{}}).get("windows"),
                  "samples": (a.stats or {{}}).get("dynamic_samples")}}))
"""
    return json.loads(site.django(code))


def mt_labels_csv(path: Path) -> Path:
    from testkit.mato_grosso import static_labels_csv

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(static_labels_csv(SHARED))
    return path


@contextmanager
def gunicorn(site: Site, workers_n: int, threads: int, **env: str) -> Iterator[str]:
    """gunicorn serving ``webapp.wsgi`` on a free loopback port (``env`` added); yields the base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "gunicorn"), "webapp.wsgi", "--bind", f"127.0.0.1:{port}"]
        + [
            "--workers",
            str(workers_n),
            "--threads",
            str(threads),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env={**site.env, **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_wrk(
    base: str, paths: list[str], token: str, connections: int, seconds: int, threads: int = 2
) -> dict:
    """wrk against ``base`` cycling ``paths``; returns requests, throughput and latency percentiles (ms)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    (folder / "paths.txt").write_text("\n".join(paths) + "\n")
    (folder / "script.lua").write_text(LUA)
    cmd = ["wrk", "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{seconds}s"]
    cmd += ["--timeout", "10s", "-H", f"Authorization: Token {token}", "-s", str(folder / "script.lua"), base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "BENCH_PATHS": str(folder / "paths.txt")})  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRK "))
    stats = json.loads(line[4:])
    stats["throughput_rps"] = round(stats["requests"] / stats["duration_s"], 1)
    stats["errors"] = stats["socket_errors"] + stats["non_2xx_3xx"]
    stats["connections"] = connections
    stats["urls"] = len(paths)
    return stats


def tile_paths(products: list[dict], bbox: tuple[float, float, float, float], zooms: range) -> list[str]:
    """Tile URLs of every product over the AOI at each zoom (Web Mercator XYZ)."""
    from testkit.tiles import tile_of

    w, s, e, n = bbox
    paths = []
    for z in zooms:
        x0, y0 = tile_of(w, n, z)
        x1, y1 = tile_of(e, s, z)
        for p in products:
            for x in range(x0, x1 + 1):
                for y in range(y0, y1 + 1):
                    paths.append(p["tiles"].format(z=z, x=x, y=y))
    return paths


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="duration of each wrk run")
    parser.add_argument("--api-clients", type=int, default=50, help="concurrent connections for API reads")
    parser.add_argument("--tile-clients", type=int, default=20, help="concurrent connections for tiles")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument(
        "--cold-seconds",
        type=int,
        default=20,
        help="tiles from an empty tile cache for this many seconds, before the main tile run",
    )
    parser.add_argument(
        "--uncached-seconds",
        type=int,
        default=20,
        help="tiles again with the tile cache off (every request renders) for this many seconds; 0: skip",
    )
    parser.add_argument(
        "--per-url", type=int, default=0, help="also run each API URL alone for this many seconds"
    )
    parser.add_argument(
        "--prerender", type=int, default=128, help="first-view tiles drawn per map when the analysis ends"
    )
    parser.add_argument(
        "--no-record", dest="record", action="store_false", help="do not write bench/results/*.json"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk (make bench installs it)")

    t0 = time.monotonic()
    site = make_site("esd_bench_load", demo_store())
    site.env["ESD_PRERENDER_TILES"] = str(args.prerender)  # the test settings' default is 0
    labels = mt_labels_csv(OUT / "esd_bench_load" / "labels.csv")
    with workers(site, 1):
        pk, token = create_analysis(site, DEMO_BBOX, labels, (2007, 2013), DEMO_PARAMETERS)
        analysis = wait_analysis(site, pk, timeout=900)
        if analysis["status"] == "done":
            analysis["timings"] = wait_prerender(site, pk, timeout=300)
    if analysis["status"] != "done":
        raise SystemExit(f"the benchmark analysis {analysis['status']}: {analysis['error']}")
    setup_s = time.monotonic() - t0

    results: dict = {"setup_s": round(setup_s, 1), "analysis": analysis}
    with gunicorn(site, args.workers, args.threads) as base:
        import requests

        headers = {"Authorization": f"Token {token}"}
        for _ in range(2 * args.workers):  # let every gunicorn worker boot (slow on a loaded machine)
            requests.get(f"{base}/api/aois/", headers=headers, timeout=180)
        detail = requests.get(f"{base}/api/analyses/{pk}/", headers=headers, timeout=180).json()
        api_paths = [
            "/api/analyses/",
            f"/api/analyses/{pk}/",
            f"/api/analyses/{pk}/samples/?limit=100",
            f"/api/analyses/{pk}/stats/",
            "/api/aois/",
            "/api/labelsets/",
        ]
        for path in api_paths:  # warm-up and a check that every URL answers 200
            status = requests.get(base + path, headers=headers, timeout=180).status_code
            if status != 200:
                raise SystemExit(f"{path} answered {status}")
        landcover = [p for p in detail["products"] if p["kind"] in ("landcover", "change_count")]
        tiles = tile_paths(landcover, DEMO_BBOX, range(12, 16))
        results["api"] = run_wrk(base, api_paths, token, args.api_clients, args.seconds)
        if args.per_url:
            results["api_per_url"] = {
                path: run_wrk(base, [path], token, args.api_clients, args.per_url) for path in api_paths
            }
        cache = site.media / "tilecache"
        results["prerendered_tiles"] = (
            sum(1 for f in cache.rglob("*") if f.is_file()) if cache.exists() else 0
        )
        # the first view after the analysis: the tiles drawn at finalize, the others rendered now
        results["tiles_first_view"] = run_wrk(base, tiles, token, args.tile_clients, args.cold_seconds)
        shutil.rmtree(cache, ignore_errors=True)  # from an empty cache: the first pass renders every tile
        results["tiles_cold"] = run_wrk(base, tiles, token, args.tile_clients, args.cold_seconds)
        results["tiles"] = run_wrk(base, tiles, token, args.tile_clients, args.seconds)
    if args.uncached_seconds:
        with gunicorn(site, args.workers, args.threads, ESD_TILE_CACHE="none") as base:
            results["tiles_uncached"] = run_wrk(base, tiles, token, args.tile_clients, args.uncached_seconds)
    results["config"] = {
        "gunicorn_workers": args.workers,
        "gunicorn_threads": args.threads,
        "seconds": args.seconds,
        "api_urls": api_paths,
        "tile_urls": f"{len(tiles)} tiles of {len(landcover)} products at z12-15 over the demo AOI",
        "machine": f"{platform.node()}: {os.cpu_count()} CPUs (2-core CPU dev machine, shared)",
        "command": "python -m bench.bench_load " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    if args.record:
        record_figures(results)
    return results


def wait_prerender(site: Site, pk: int, timeout: float) -> dict:
    """Poll until the worker has drawn the analysis' first-view tiles (``prerender_tiles`` in its
    timings, recorded after it is done); returns the timings."""
    code = f"""
import json, time
from monitoring.models import Analysis
deadline = time.monotonic() + {timeout}
while "prerender_tiles" not in (Analysis.objects.get(pk={pk}).timings or {{}}) and time.monotonic() < deadline:
    time.sleep(0.2)
print(json.dumps(Analysis.objects.get(pk={pk}).timings))
"""
    return json.loads(site.django(code))


def record_figures(results: dict) -> None:
    """``bench/results/`` files: tile p95 of the first view, from an empty cache, of cached tiles; API p95."""
    from bench.results import Figure, record, this_command

    cfg = results["config"]
    common = {"command": this_command(), "section": "faults_security_load"}
    setup = (
        f"gunicorn {cfg['gunicorn_workers']} workers x {cfg['gunicorn_threads']} threads, {cfg['tile_urls']}"
    )

    def details(run: dict) -> dict:
        keys = (
            "requests",
            "throughput_rps",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "errors",
            "connections",
            "duration_s",
        )
        return {k: run[k] for k in keys} | {"setup": setup}

    first, cold, warm, api = (results[k] for k in ("tiles_first_view", "tiles_cold", "tiles", "api"))
    record(
        Figure(
            name="tile_first_view_p95_ms",
            value=first["p95_ms"],
            unit="ms",
            goal="<= 100",
            title=f"Map tile p95, first view of a finished analysis ({first['connections']} concurrent; "
            "first-view tiles drawn by the worker when the analysis finished)",
            details=details(first) | {"prerendered_tiles": results["prerendered_tiles"]},
            **common,
        ),
        Figure(
            name="tile_cold_render_p95_ms",
            value=cold["p95_ms"],
            unit="ms",
            goal="",
            title=f"Map tile p95 from an empty tile cache ({cold['connections']} concurrent; every tile rendered once)",
            details=details(cold),
            **common,
        ),
        Figure(
            name="tile_warm_p95_ms",
            value=warm["p95_ms"],
            unit="ms",
            goal="<= 50",
            title=f"Map tile p95, tiles already drawn ({warm['connections']} concurrent)",
            details=details(warm),
            **common,
        ),
        Figure(
            name="api_p95_ms",
            value=api["p95_ms"],
            unit="ms",
            goal="<= 200",
            title=f"API read p95 ({api['connections']} concurrent, 6 URLs)",
            details=details(api),
            **common,
        ),
    )


if __name__ == "__main__":
    main()
