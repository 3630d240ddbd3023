"""``manage.py load_demo``: the demo user and whatever demo data exists (idempotent)."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring.services.demo import demo_load

DEFAULT_DEMO_PASSWORD = "esd-demo-2026"  # well known: development machines only


def demo_password(environ: dict[str, str], *, production: bool) -> tuple[str, bool]:
    """The demo user's password and whether it was generated here (to be printed once).

    Development: ``DEMO_PASSWORD`` or the well-known default. Production (``ESD_PRODUCTION``):
    ``DEMO_PASSWORD`` (never the well-known default, never shorter than 12 characters) or a fresh
    random one.
    """
    given = environ.get("DEMO_PASSWORD", "")
    if not production:
        return given or DEFAULT_DEMO_PASSWORD, False
    if given == DEFAULT_DEMO_PASSWORD or 0 < len(given) < 12:
        raise CommandError(
            "DEMO_PASSWORD is the well-known default or shorter than 12 characters; production needs "
            "another one (or leave DEMO_PASSWORD unset to get a generated password printed)"
        )
    return (given, False) if given else (secrets.token_urlsafe(12), True)


class Command(BaseCommand):
    help = "Create the demo user (printed) and load the demo ESD store, AOIs and label sets. Safe to rerun."

    def handle(self, *args: Any, **options: Any) -> None:
        password, generated = demo_password(dict(os.environ), production=settings.ESD_PRODUCTION)
        if generated:
            self.stdout.write("DEMO_PASSWORD is unset: the demo user gets a generated password (below).")
        report = demo_load(username=os.environ.get("DEMO_USER", "demo"), password=password)
        for line in report:
            self.stdout.write(line)
