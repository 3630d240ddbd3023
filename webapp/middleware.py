"""Middleware: a lost database connection answers 503 with a message, not a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError, close_old_connections
from django.db.utils import InterfaceError
from django.http import HttpRequest, HttpResponse, JsonResponse

from monitoring.errors import DB_UNAVAILABLE

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """Turn ``OperationalError``/``InterfaceError`` from the database into a 503 JSON or text answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable: %s", exception)
        close_old_connections()
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            response: HttpResponse = JsonResponse({"detail": DB_UNAVAILABLE}, status=503)
        else:
            response = HttpResponse(DB_UNAVAILABLE, status=503, content_type="text/plain")
        response["Retry-After"] = "30"
        return response
