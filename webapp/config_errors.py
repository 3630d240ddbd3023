"""Turn configuration errors (no GDAL, unreachable database or broker) into one-line messages."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class ConfigError(Exception):
    """A setting is wrong or a service it names cannot be reached; the message names the setting."""


def describe(exc: BaseException) -> str | None:
    """A one-line message naming the setting to fix, or None when ``exc`` is not a configuration error."""
    from django.core.exceptions import ImproperlyConfigured

    text = " ".join(str(exc).split())
    if isinstance(exc, ConfigError):
        return text
    if isinstance(exc, ImproperlyConfigured):
        if "GDAL" in text or "GEOS" in text:
            return f"GDAL/GEOS libraries not found ({text[:160]}): install gdal-bin libgeos-c1v5 (make install-system) or set GDAL_LIBRARY_PATH"
        if "SpatiaLite" in text or "spatialite" in text:
            return f"SpatiaLite not loadable ({text[:160]}): install libsqlite3-mod-spatialite or set SPATIALITE_LIBRARY_PATH"
        return text
    if isinstance(exc, OSError) and any(k in text.lower() for k in ("gdal", "geos", "proj")):
        return f"GDAL/GEOS library could not be loaded ({text[:160]}): install gdal-bin libgeos-c1v5 or fix GDAL_LIBRARY_PATH"
    try:
        from django.db import OperationalError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, OperationalError):
        return f"cannot connect to the database ({text[:200]}): check DATABASE_URL"
    return None


@contextmanager
def exit_on_config_error() -> Iterator[None]:
    """Run a block; on a configuration error print ``error: <message>`` and exit with status 2."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only configuration errors are turned into one line
        message = describe(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
