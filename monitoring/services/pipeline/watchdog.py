"""The watchdog: resume analyses whose queued messages were lost (a broker restarted without persistence).

An analysis is stalled when it is queued or running, none of its tasks has touched it (``updated_at``:
every task touches it when it starts and every ``ESD_HEARTBEAT_S`` while it runs) for ``stall_s``
seconds, and the task queue is empty, so no message that could move it waits behind other work.
Resuming re-sends what its current stage waits for (:func:`resume.resume`); every task is idempotent,
so resuming an analysis whose message was only late costs checks, not a second computation.
Celery beat sends ``analysis.watchdog`` every ``ESD_WATCHDOG_EVERY_S`` seconds (``webapp/celery.py``).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from celery import current_app
from django.utils import timezone

from monitoring.models import Analysis
from monitoring.services.pipeline import resume

logger = logging.getLogger(__name__)
STALL_S = float(os.environ.get("ESD_WATCHDOG_STALL_S", "300"))


def queued_messages() -> int | None:
    """Messages waiting in the default task queue (None when the broker cannot tell)."""
    app = current_app
    try:
        with app.connection_for_read() as conn:
            declared = conn.default_channel.queue_declare(queue=app.conf.task_default_queue, passive=True)
            return int(declared.message_count)
    except Exception as exc:  # a queue never declared, or a transport without counts
        if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
            return 0
        logger.info("watchdog: cannot count queued messages: %s", exc)
        return None


def stalled(stall_s: float) -> list[Analysis]:
    """Queued or running analyses untouched for ``stall_s`` seconds, oldest first."""
    cutoff = timezone.now() - timedelta(seconds=stall_s)
    return list(
        Analysis.objects.filter(
            status__in=[Analysis.Status.QUEUED, Analysis.Status.RUNNING], updated_at__lt=cutoff
        ).order_by("updated_at")
    )


def resume_stalled(stall_s: float = STALL_S) -> list[int]:
    """Resume every stalled analysis when nothing waits in the queue; returns the ids resumed."""
    candidates = stalled(stall_s)
    if not candidates:
        return []
    waiting = queued_messages()
    if waiting != 0:
        logger.info(
            "watchdog: %s analyses look stalled but %s messages wait in the queue: not resumed yet",
            len(candidates),
            "some" if waiting is None else waiting,
        )
        return []
    resumed = []
    for analysis in candidates:
        # touched first: the next check waits a full stall period for the resumed tasks to show up
        touched = Analysis.objects.filter(pk=analysis.pk, updated_at=analysis.updated_at).update(
            updated_at=timezone.now()
        )
        if not touched:  # a task touched it since the query, or another watchdog got there first
            continue
        tasks = resume.resume(analysis.pk)
        logger.warning(
            "watchdog: analysis %s (%s, %s%%) made no progress for %.0f s: re-enqueued %s",
            analysis.pk,
            analysis.stage,
            analysis.progress,
            stall_s,
            ", ".join(tasks) or "nothing",
        )
        resumed.append(analysis.pk)
    return resumed
