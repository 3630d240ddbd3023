"""A real ``celery worker`` subprocess on a given queue: started, waited for, stopped (tests and benchmarks)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from testkit import REPO


@dataclass
class WorkerProcess:
    """A running ``celery worker`` subprocess and what is needed to restart or kill it."""

    proc: subprocess.Popen
    env: dict[str, str]
    queue: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(
    env: dict[str, str], queue: str, log_path: Path, name: str = "w1", timeout: float = 90.0
) -> WorkerProcess:
    """Start a real Celery worker on ``queue`` and wait until it says it is ready."""
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "webapp",
            "worker",
            "-Q",
            queue,
            "-c",
            "1",
            "-n",
            f"{name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"celery worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        if " ready." in log_path.read_text(errors="replace"):
            return WorkerProcess(proc=proc, env=env, queue=queue, log_path=log_path)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"celery worker not ready after {timeout} s:\n{log_path.read_text()[-3000:]}")


def stop_worker(worker: WorkerProcess) -> None:
    if worker.proc.poll() is None:
        worker.proc.terminate()
        try:
            worker.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()
