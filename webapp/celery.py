"""The Celery app: configured from Django settings (``CELERY_*``), tasks imported from ``tasks/``."""

from __future__ import annotations

import os
import pkgutil
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.base")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _task_modules() -> list[str]:
    """Every module of the top-level ``tasks`` package (tasks live there, not in apps)."""
    tasks_dir = Path(__file__).resolve().parents[1] / "tasks"
    return [f"tasks.{m.name}" for m in pkgutil.iter_modules([str(tasks_dir)]) if not m.name.startswith("_")]


app.conf.include = _task_modules()

# Celery beat (the ``beat`` process of the Procfile): the watchdog resumes analyses whose queued
# messages a broker lost. Each message expires after one period, so a backlog never piles up.
WATCHDOG_EVERY_S = float(os.environ.get("ESD_WATCHDOG_EVERY_S", "60"))
app.conf.beat_schedule = {
    "analysis-watchdog": {
        "task": "analysis.watchdog",
        "schedule": WATCHDOG_EVERY_S,
        "options": {"expires": WATCHDOG_EVERY_S},
    }
}
