"""``manage.py healthcheck``: the same JSON as ``/healthz`` (database, broker, worker round trip)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.selectors.health import health_report


class Command(BaseCommand):
    help = "Print database, broker and worker status as JSON; exit 1 when one is not ok."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for a worker")

    def handle(self, *args: Any, **options: Any) -> None:
        report = health_report(worker_timeout=options["timeout"])
        self.stdout.write(json.dumps(report))
        if report["status"] != "ok":
            raise CommandError("not healthy", returncode=1)
