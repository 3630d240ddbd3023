"""``manage.py esd_index [LOCATION]``: fill the EsdTile catalog from an ESD store folder or URL (idempotent)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.services.esd_catalog import EsdCatalogError, esd_index


class Command(BaseCommand):
    help = (
        "Index the ESD tiles of a folder, file:// or http(s):// store (default settings.ESD_STORE) into the "
        "EsdTile catalog. Reports new/updated/unchanged tiles and rejects non-ESD files with a reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "location", nargs="?", default=None, help="folder, tile file, file:// or http(s):// prefix"
        )
        parser.add_argument(
            "--prune", action="store_true", help="delete rows of tiles no longer in the store"
        )
        parser.add_argument("--no-check-data", action="store_true", help="skip reading pixel data (faster)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        location = options["location"] or str(settings.ESD_STORE)
        try:
            report = esd_index(
                location=location, prune=options["prune"], check_data=not options["no_check_data"]
            )
        except EsdCatalogError as exc:
            raise CommandError(f"cannot index {location}: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=1))
            return
        for uri, reason in report.rejected:
            self.stderr.write(f"rejected {uri}: {reason}")
        self.stdout.write(
            f"{location}: {len(report.new)} new, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.rejected)} rejected, {len(report.removed)} removed"
        )
