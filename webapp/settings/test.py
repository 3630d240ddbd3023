"""Test settings: PostGIS at 127.0.0.1:5432 and Redis at 127.0.0.1:6379, as in CI."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/esd_monitor")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CELERY_VISIBILITY_TIMEOUT", "20")

from webapp.settings.base import *  # noqa: E402,F403
from webapp.settings.base import VAR_DIR, tile_cache_config  # noqa: E402

DEBUG = False
ESD_BASEMAP_URL = os.environ.get("ESD_BASEMAP_URL", "")  # no network in tests: the shipped outline only
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", tempfile.mkdtemp(prefix="esd-media-")))
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "tiles": tile_cache_config(os.environ.get("ESD_TILE_CACHE", str(MEDIA_ROOT / "tilecache"))),
}
# The suite runs many analyses: no pre-rendered tiles unless a test (or a benchmark) asks for them.
ESD_PRERENDER_TILES = int(os.environ.get("ESD_PRERENDER_TILES", "0"))
STATIC_ROOT = VAR_DIR / "staticfiles-test"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The suite signs in many times from 127.0.0.1; tests/monitoring/test_sign_in_limits.py sets its own rate.
ESD_LOGIN_RATE = os.environ.get("ESD_LOGIN_RATE", "1000/min")
# Every API answer of the suite is checked against the OpenAPI schema (tests/openapi_responses.py).
if os.environ.get("ESD_CHECK_RESPONSES", "1") != "0":
    MIDDLEWARE = ["tests.openapi_responses.ResponseSchemaMiddleware", *MIDDLEWARE]  # noqa: F405
