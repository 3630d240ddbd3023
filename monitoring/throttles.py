"""Throttles of the sign-in endpoints: password guessing gets 429, a real user waits at most a window.

``POST /accounts/login/`` and ``POST /api/token/`` are limited to ``ESD_LOGIN_RATE`` attempts per
client address (``"10/min"`` by default; ``<n>/<period>`` with a period of ``s``, ``min``, ``h``,
``d`` or a number of seconds such as ``30s``), counted in the
``default`` cache. Nothing locks an account: once the window has passed, the next attempt is
counted afresh, so a user who mistyped is let in again and an attacker guessing from one address
gets ``ESD_LOGIN_RATE`` tries per window. (The default cache is per process; give several web
processes a shared cache for one count across them.)
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class LoginRateThrottle(SimpleRateThrottle):
    scope = "login"

    def get_rate(self) -> str:
        return settings.ESD_LOGIN_RATE  # read per request: settings can change (tests, reloads)

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        """``(attempts, window seconds)`` of ``"10/min"``, ``"5/s"`` or ``"5/30s"``."""
        if rate is None:
            return None, None
        count, _, period = rate.partition("/")
        if period[:-1].isdigit() and period.endswith("s"):
            return int(count), int(period[:-1])
        return super().parse_rate(rate)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
