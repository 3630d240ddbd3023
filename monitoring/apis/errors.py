"""API error answers: domain errors become 4xx with their message; nothing leaks a traceback."""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from monitoring.errors import DB_UNAVAILABLE, ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=exc.status)
    if isinstance(exc, OperationalError | InterfaceError):
        return Response({"detail": DB_UNAVAILABLE}, status=503, headers={"Retry-After": "30"})
    return drf_exception_handler(exc, context)
