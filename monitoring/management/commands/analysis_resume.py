"""``manage.py analysis_resume``: re-enqueue analyses whose queued messages were lost.

A broker that lost its messages (Redis restarted without persistence) leaves running analyses with
nothing queued. Re-enqueueing what each one's current stage waits for is safe: every step is
idempotent and skips finished windows and stages. The watchdog (``analysis.watchdog``, run by Celery
beat) does the same by itself for analyses with no progress; this command does it now.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.models import Analysis
from monitoring.services.pipeline.resume import resume


class Command(BaseCommand):
    help = "Re-enqueue the current stage of the given analyses (or of every queued/running one with --all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="analysis ids")
        parser.add_argument("--all", action="store_true", help="every queued or running analysis")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["ids"] and not options["all"]:
            raise CommandError("give analysis ids or --all")
        qs = Analysis.objects.filter(status__in=[Analysis.Status.QUEUED, Analysis.Status.RUNNING])
        if options["ids"]:
            qs = qs.filter(pk__in=options["ids"])
        for analysis in qs.order_by("pk"):
            tasks = resume(analysis.pk)
            self.stdout.write(f"analysis {analysis.pk} ({analysis.stage}): re-enqueued {', '.join(tasks)}")
