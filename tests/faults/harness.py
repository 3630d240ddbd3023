"""Fault-test harness: own worker processes on a private queue, SIGKILL, and analysis results to compare."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings

from monitoring.models import Analysis, DynamicSample
from testkit import REPO
from testkit.workers import WorkerProcess, start_worker

FINISHED = {"done", "failed", "cancelled"}
PARAMETERS = {"year_start_month": 9, "tasgen": {"epochs": 150}}  # the demo analysis the fault tests run
WATCHDOG_STALL_S = 4  # analyses untouched this long are resumed by the watchdog in these tests
WATCHDOG = {"ESD_WATCHDOG_STALL_S": str(WATCHDOG_STALL_S), "ESD_HEARTBEAT_S": "1"}  # worker/beat env
# Kill cases: the task to kill, and the stages the analysis may be in while that task runs (relabel
# runs beside the window lookups; the attribution and the ESD products beside the classify windows).
KILL_CASES: dict[str, tuple[str, set[str]]] = {
    "lookup": ("analysis.lookup_window", {"lookup"}),
    "relabel": ("analysis.relabel", {"lookup", "relabel"}),
    "attribution": ("analysis.attribute", {"lookup", "relabel", "classify", "change"}),
    "esd_products": ("analysis.esd_products", {"relabel", "classify", "change"}),
    "classify": ("analysis.classify_window", {"classify"}),
    "change": ("analysis.change", {"change"}),
    "finalize": ("analysis.finalize", {"finalize"}),
}


@contextmanager
def private_queue() -> Iterator[str]:
    """Send this process' tasks to a queue of its own (no shared test worker takes them)."""
    from webapp.celery import app

    queue = f"esd-faults-{uuid.uuid4().hex[:8]}"
    old = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        app.conf.task_default_queue = old


def worker_on(env: dict[str, str], queue: str, log_path: Path, name: str, **extra: str) -> WorkerProcess:
    """A real Celery worker consuming ``queue`` (``extra`` overrides its environment, e.g. the broker)."""
    return start_worker({**env, "CELERY_TASK_DEFAULT_QUEUE": queue, **extra}, queue, log_path, name=name)


def beat_on(env: dict[str, str], queue: str, folder: Path, every_s: float, **extra: str) -> subprocess.Popen:
    """A real ``celery beat`` sending ``analysis.watchdog`` to ``queue`` every ``every_s`` seconds."""
    log = (folder / "beat.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "webapp", "beat", "-l", "INFO"]
        + ["--schedule", str(folder / "beat-schedule")],
        cwd=REPO,
        env={
            **env,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "ESD_WATCHDOG_EVERY_S": str(every_s),
            **extra,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_beat(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sigkill(worker: WorkerProcess) -> list[int]:
    """SIGKILL the worker's main process and its pool children at once; returns the pids killed."""
    main = psutil.Process(worker.proc.pid)
    procs = [*main.children(recursive=True), main]
    for p in procs:
        with suppress(ProcessLookupError):
            os.kill(p.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)
    return [p.pid for p in procs]


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def task_running(worker: WorkerProcess, task: str) -> bool:
    """The worker has received ``task`` and not yet finished it (by its INFO log lines)."""
    lines = [line for line in worker.log().splitlines() if f"Task {task}[" in line]
    received = sum("received" in line for line in lines)
    finished = sum(("succeeded" in line or "raised" in line or "retry" in line.lower()) for line in lines)
    return received > finished


def wait_finished(pk: int, timeout: float) -> Analysis:
    """The analysis once it is done/failed/cancelled; AssertionError naming its stage after ``timeout``."""
    deadline = time.monotonic() + timeout
    analysis = Analysis.objects.get(pk=pk)
    while time.monotonic() < deadline:
        analysis = Analysis.objects.get(pk=pk)
        if analysis.status in FINISHED:
            return analysis
        time.sleep(0.5)
    raise AssertionError(
        f"analysis {pk} hangs: {analysis.status}/{analysis.stage} {analysis.progress}% after {timeout} s"
    )


def clear_stage_cache() -> None:
    """Remove the stage results analyses share (``MEDIA_ROOT/cache``) so the next run computes everything."""
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "cache", ignore_errors=True)


@dataclass(frozen=True)
class Outcome:
    """What a finished analysis produced, comparable between runs."""

    status: str
    areas: Any  # stats["areas"]: per-year class areas and transitions
    accuracy: Any  # stats["accuracy"]
    samples: int  # DynamicSample rows
    distinct_label_years: int  # distinct (label, year) among them: equal to ``samples`` when no duplicates
    classes: tuple  # (label row, year, dynamic class) of every sample, sorted
    products: tuple  # (kind, year, year_to) of every MapProduct, sorted
    attributions: tuple  # (label row, year, attribution JSON) of every sample with one, sorted


def outcome(pk: int) -> Outcome:
    analysis = Analysis.objects.get(pk=pk)
    samples = DynamicSample.objects.filter(analysis_id=pk)
    return Outcome(
        status=analysis.status,
        areas=(analysis.stats or {}).get("areas"),
        accuracy=(analysis.stats or {}).get("accuracy"),
        samples=samples.count(),
        distinct_label_years=samples.values("label", "year").distinct().count(),
        classes=tuple(
            samples.order_by("label__row", "year").values_list("label__row", "year", "dynamic_class")
        ),
        products=tuple(sorted(analysis.products.values_list("kind", "year", "year_to"))),
        attributions=tuple(
            (row, year, json.dumps(att, sort_keys=True))
            for row, year, att in samples.exclude(attribution={})
            .order_by("label__row", "year")
            .values_list("label__row", "year", "attribution")
        ),
    )
