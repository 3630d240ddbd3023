"""Seconds spent per stage of an analysis (``Analysis.timings``), and which stages were reused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from monitoring.models import Analysis


def record_timing(analysis_id: int, stage: str, seconds: float, *, reused: bool = False) -> None:
    """Add ``seconds`` to the stage's timing (window tasks add up); mark reused stages."""
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().get(pk=analysis_id)
        timings = dict(analysis.timings or {})
        timings[stage] = round(float(timings.get(stage, 0.0)) + seconds, 3)
        if reused:
            timings.setdefault("reused", [])
            if stage not in timings["reused"]:
                timings["reused"].append(stage)
        analysis.timings = timings
        analysis.save(update_fields=["timings"])


@contextmanager
def timed(analysis_id: int, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    record_timing(analysis_id, stage, time.perf_counter() - start)
