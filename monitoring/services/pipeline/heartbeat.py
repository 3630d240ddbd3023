"""Liveness of an analysis: tasks touch ``Analysis.updated_at`` when they start and while they run.

A worker that dies stops beating, so an analysis untouched for longer than the watchdog's stall
time (:mod:`watchdog`) has nothing running.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections
from django.utils import timezone

from monitoring.models import Analysis

logger = logging.getLogger(__name__)


def touch(analysis_id: int) -> None:
    """Record that a task of the analysis is alive (``updated_at``): what the watchdog calls progress."""
    Analysis.objects.filter(pk=analysis_id).update(updated_at=timezone.now())


HEARTBEAT_S = float(os.environ.get("ESD_HEARTBEAT_S", "30"))


@contextmanager
def heartbeat(analysis_id: int, every_s: float | None = None) -> Iterator[None]:
    """Touch the analysis now and every ``every_s`` seconds (a thread) while the block runs.

    A worker that dies stops beating, so an analysis with no touch for longer than the watchdog's
    stall time has nothing running; a long task (TasGen on many labels) keeps its analysis fresh.
    Failed touches (a locked SQLite file, a database restart) are logged and skipped.
    """
    every = HEARTBEAT_S if every_s is None else every_s
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    touch(analysis_id)
                except Exception as exc:  # a missed beat only makes the watchdog look earlier
                    logger.info("heartbeat of analysis %s skipped: %s", analysis_id, exc)
        finally:
            connections.close_all()  # this thread's own connections

    touch(analysis_id)
    thread = threading.Thread(target=beat, name=f"heartbeat-{analysis_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)
