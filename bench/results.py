"""Benchmark figures as files: every benchmark writes ``bench/results/<name>.json`` through :func:`record`.

A result file holds one figure (or a list of figures) with what a reader needs to trust it: the value
and its unit, the goal it is held to, the exact command that produced it, the machine, the load while
it ran, the commit and the date. ``bench/collect_benchmarks.py`` builds the headline table of
``docs/benchmarks.md`` from these files, so a figure in the table is always the last one measured;
earlier values stay in the file's git history.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"


@dataclass(frozen=True)
class Figure:
    """One measured figure.

    ``goal`` is a comparison the value must pass, as text (``"<= 15"``, ``">= 1.8"``) or ``""`` when
    the figure is informative only; ``met`` is derived from it.
    """

    name: str  # file stem and key, e.g. "e2e_10km_10y"
    value: float  # the measured number, in ``unit``
    unit: str  # "s", "ms", "x", "%", "MiB", ...
    goal: str  # "<= 15", ">= 1.8" or "" (no goal)
    title: str  # what it is, one line for the headline table
    command: str  # how to reproduce it, from the repo root
    section: str = ""  # topic page in docs/benchmarks/ with the details (e.g. "analysis")
    machine: str = ""
    load: str = ""  # 1/5/15-minute load averages at the end of the run
    commit: str = ""
    date: str = ""
    details: dict[str, object] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        """Whether ``value`` passes ``goal``; None without a goal or with one that is not a comparison."""
        text = self.goal.strip().replace("≤", "<=").replace("≥", ">=").replace(" ", "")
        for op in ("<=", ">=", "<", ">"):
            if text.startswith(op):
                try:
                    limit = float(text[len(op) :].rstrip("%xsmMiBG"))
                except ValueError:
                    return None
                return {
                    "<=": self.value <= limit,
                    ">=": self.value >= limit,
                    "<": self.value < limit,
                    ">": self.value > limit,
                }[op]
        return None


def machine() -> str:
    """A short description of this machine: host, cores, memory."""
    try:
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {mem_kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = ""
    return f"{platform.node()}: {os.cpu_count()} cores{mem}, {platform.system()} {platform.machine()}, no GPU"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def this_command() -> str:
    """The command line that is running, for ``Figure.command`` (script paths relative to the repo)."""
    args = []
    for arg in sys.argv:
        path = Path(arg)
        if path.is_absolute() and path.is_relative_to(REPO):
            arg = str(path.relative_to(REPO))
        args.append(arg)
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":  # run as `python -m bench.<name>`
        return shlex.join(["python", "-m", spec.name, *args[1:]])
    return shlex.join(["python", *args])


def record(*figures: Figure, results_dir: Path = RESULTS_DIR) -> list[Path]:
    """Write each figure to ``<results_dir>/<name>.json``, filling machine, load, commit and date."""
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    for fig in figures:
        data = asdict(fig)
        data["machine"] = fig.machine or machine()
        data["load"] = fig.load or load()
        data["commit"] = fig.commit or commit()
        data["date"] = fig.date or now
        data["met"] = fig.met
        path = results_dir / f"{fig.name}.json"
        path.write_text(json.dumps(data, indent=1) + "\n")
        written.append(path)
    return written


def read_all(results_dir: Path = RESULTS_DIR) -> list[Figure]:
    """Every figure under ``results_dir`` (a file may hold one figure or a list), sorted by section and name."""
    figures: list[Figure] = []
    known = set(Figure.__dataclass_fields__)
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text())
        for item in data if isinstance(data, list) else [data]:
            item = {k: v for k, v in item.items() if k in known}
            item.setdefault("title", item.get("name", path.stem))
            item.setdefault("section", "")
            item["value"] = float(item["value"])
            item["goal"] = str(item.get("goal") or "")
            figures.append(Figure(**item))
    return sorted(figures, key=lambda f: (f.section, f.name))
