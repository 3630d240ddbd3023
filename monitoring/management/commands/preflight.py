"""``manage.py preflight``: check GDAL, the database and the broker before starting a process.

Exits 2 with one line per failing component naming the setting to fix; prints ``ok`` lines otherwise.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.services.health import check_broker, check_database


class Command(BaseCommand):
    help = "Check that GDAL, the database (DATABASE_URL) and the broker (CELERY_BROKER_URL) work."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--skip-broker", action="store_true", help="check the database only")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.contrib.gis.gdal import gdal_version

        checks = {"gdal": None, "database": check_database()}
        if not options["skip_broker"]:
            checks["broker"] = check_broker()
        failures = [f"{name}: {c.detail}" for name, c in checks.items() if c is not None and not c.ok]
        if failures:
            raise CommandError("; ".join(failures), returncode=2)
        self.stdout.write(f"preflight ok (GDAL {gdal_version().decode()}, database, broker)")
