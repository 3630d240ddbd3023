"""``manage.py load_demo``: the demo user and whatever demo data exists (idempotent)."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from monitoring.services.demo import demo_load


class Command(BaseCommand):
    help = "Create the demo user (printed) and load the demo ESD store, AOIs and label sets. Safe to rerun."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        password = os.environ.get("DEMO_PASSWORD", "esd-demo-2026")
        report = demo_load(username=os.environ.get("DEMO_USER", "demo"), password=password)
        for line in report:
            self.stdout.write(line)
