"""Fresh-machine set-up time: ``make run``'s install, migrate and demo steps on a clean clone.

Clones the repository's committed HEAD into a temporary folder (``../shared`` linked beside it), then
times each step of ``make run`` up to the point where it would start the servers: the system packages
(``make install-system``: a no-op when they are present, as on CI machines that installed them
before), ``make venv`` (a new virtual environment: torch from the wheel on disk, the geo packages
compiled against the system GDAL/PROJ/GEOS by ``.ci/build-native-wheels.sh``, everything else from
PyPI, with pip's cache switched off so nothing built earlier is reused) and ``make migrate demo``
(SpatiaLite database, the demo stores encoded by ESDNet, the demo analysis run). Each step's wall
time and the CPU seconds of its processes are recorded: on a machine shared with other jobs the wall
time carries their load, while the CPU seconds do not (wall on an idle 2-core machine is bounded
below by CPU / 2 and by the longest single compile).

Run: ``.venv/bin/python -m bench.bench_install`` (about 8-10 minutes on an idle machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from bench.results import Figure, record

REPO = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Run ``cmd``; wall seconds and the CPU seconds (user + system) of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="esd-install-"))
    clone = root / "esd"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    (root / "shared").symlink_to((REPO.parent / "shared").resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "VIRTUAL_ENV"))}
    env.update(PIP_NO_CACHE_DIR="1", DJANGO_SETTINGS_MODULE="webapp.settings.base")
    steps = {
        "install-system": _timed(["make", "install-system"], clone, env),
        "venv": _timed(["make", "venv"], clone, env),
        "migrate+demo": _timed(["make", "migrate", "demo"], clone, env),
    }
    total_wall = round(sum(s["wall_s"] for s in steps.values()), 1)
    total_cpu = round(sum(s["cpu_s"] for s in steps.values()), 1)
    command = "python -m bench.bench_install"
    record(
        Figure(
            name="make_run_setup",
            value=round(total_wall / 60, 2),
            unit="min",
            goal="<= 8",
            title="Fresh clone: make run's install + migrate + demo, until the servers start (wall)",
            command=command,
            section="install",
            details={"steps": steps, "cpu_s": total_cpu},
        ),
        Figure(
            name="make_run_setup_cpu",
            value=round(total_cpu / 60, 2),
            unit="CPU min",
            goal="",
            title="Fresh clone: CPU time of the same steps (independent of other jobs' load)",
            command=command,
            section="install",
            details={"steps": steps},
        ),
    )
    print(json.dumps({"steps": steps, "wall_s": total_wall, "cpu_s": total_cpu}, indent=2))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(root)], check=False)


if __name__ == "__main__":
    main()
