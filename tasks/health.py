"""Health-check task: the worker end of ``/healthz``'s round trip."""

from __future__ import annotations

import socket

from celery import shared_task

from monitoring.services.health import heartbeat_record


@shared_task(name="health.heartbeat", ignore_result=True)
def heartbeat(token: str) -> None:
    """Write a heartbeat row for ``token`` so the caller sees that a worker ran its task."""
    heartbeat_record(token=token, hostname=socket.gethostname())
