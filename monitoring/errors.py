"""The one domain error of the monitoring app: its message is shown to the user as is."""

from __future__ import annotations

from typing import Any

DB_UNAVAILABLE = "The database is unavailable right now; try again in a minute."


class ApplicationError(Exception):
    """A request the domain refuses (bad input, wrong state); ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, *, status: int = 400, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra or {}
