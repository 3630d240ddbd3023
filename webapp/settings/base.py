"""Base settings: every URL and secret comes from the environment.

Defaults need no server: SpatiaLite in ``var/db.sqlite3`` and Celery's filesystem broker in
``var/broker``. Set ``DATABASE_URL`` (``postgis://...``) and ``CELERY_BROKER_URL`` (``redis://...``)
for the production setup.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("ESD_VAR_DIR", BASE_DIR / "var"))
SHARED_DATA_DIR = Path(os.environ.get("ESD_SHARED_DATA", BASE_DIR.parent / "shared" / "data"))

DEFAULT_SECRET_KEY = "insecure-dev-key-change-me"
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = os.environ.get("DEBUG", "1").lower() in {"1", "true", "yes", "on"}
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "monitoring.views.allow_signup",
            ],
        },
    },
]


# SpatiaLite under concurrent web and worker writes. WAL: readers never wait for the writer.
# ``timeout``: a writer waits up to 20 s for the lock instead of failing with "database is locked".
# IMMEDIATE: every transaction takes the write lock when it begins. SQLite's default (DEFERRED) starts
# as a reader and upgrades at its first write, and an upgrade that finds another writer's newer
# commit fails at once, whatever the timeout (SQLITE_BUSY_SNAPSHOT): the 503s of issue 17.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def database_from_url(url: str) -> dj_database_url.DBConfig:
    """A Django ``DATABASES`` entry from a URL, always with a GeoDjango engine.

    ``postgres://``/``postgresql://`` become PostGIS, ``sqlite://`` becomes SpatiaLite.
    """
    for plain, spatial in (
        ("postgresql://", "postgis://"),
        ("postgres://", "postgis://"),
        ("sqlite://", "spatialite://"),
    ):
        if url.startswith(plain):
            url = spatial + url[len(plain) :]
    if not url.startswith(("postgis://", "spatialite://")):
        raise ImproperlyConfigured(
            f"DATABASE_URL must be postgis:// or spatialite://, got {url.split(':')[0]}://"
        )
    config = dj_database_url.parse(url, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))
    if url.startswith("spatialite://"):
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
    else:
        config["OPTIONS"] = {"connect_timeout": 5}
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASE_URL = os.environ.get("DATABASE_URL", "")
if not DATABASE_URL:  # the serverless default: SpatiaLite under var/
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"spatialite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": database_from_url(DATABASE_URL)}
GDAL_LIBRARY_PATH = os.environ.get("GDAL_LIBRARY_PATH") or None
GEOS_LIBRARY_PATH = os.environ.get("GEOS_LIBRARY_PATH") or None
SPATIALITE_LIBRARY_PATH = os.environ.get("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Debian 12 ships GDAL 3.6; untrusted SRS strings never reach GDAL unparsed (uploads go through pyproj).
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-up page on/off (a private deployment creates accounts in the admin instead).
ESD_ALLOW_SIGNUP = os.environ.get("ESD_ALLOW_SIGNUP", "1").lower() in {"1", "true", "yes", "on"}
# Sign-in attempts (log-in page and API token) per client address; see monitoring/throttles.py.
ESD_LOGIN_RATE = os.environ.get("ESD_LOGIN_RATE", "10/min")
# Production settings set this: the demo user then never gets the well-known password.
ESD_PRODUCTION = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "map"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))


def tile_cache_config(value: str) -> dict:
    """The ``tiles`` cache: a folder (default), ``redis://...`` (shared by many web machines) or ``none``.

    Rendered PNG map tiles are stored under their ETag (COG identity + style + tile address), so a
    rewritten product or new class colours never hit an old entry; the folder cache culls a third
    of its entries past ``MAX_ENTRIES``.
    """
    if value.lower() in {"none", "off", "0"}:
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    if value.startswith(("redis://", "rediss://", "unix://")):
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": value,
            "TIMEOUT": 7 * 86400,
        }
    return {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": value,
        "TIMEOUT": 7 * 86400,
        "OPTIONS": {"MAX_ENTRIES": 50_000},
    }


ESD_TILE_CACHE = os.environ.get("ESD_TILE_CACHE", str(MEDIA_ROOT / "tilecache"))
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "tiles": tile_cache_config(ESD_TILE_CACHE),
}
# Map tiles drawn into the tile cache when an analysis finishes, per land-cover / change map (0: none).
ESD_PRERENDER_TILES = int(os.environ.get("ESD_PRERENDER_TILES", "128"))


# Uploads: requests above these sizes are refused before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
ESD_UPLOAD_MAX_BYTES = int(os.environ.get("ESD_UPLOAD_MAX_BYTES", str(20 * 1024 * 1024)))
ESD_UPLOAD_MAX_FEATURES = int(os.environ.get("ESD_UPLOAD_MAX_FEATURES", "50000"))
ESD_AOI_MAX_KM2 = float(os.environ.get("ESD_AOI_MAX_KM2", "10000"))

# The ESD store: a folder or URL prefix of ESD tiles (see docs/esd_format.md).
ESD_STORE = os.environ.get("ESD_STORE", str(VAR_DIR / "esd_store"))

# Celery: the filesystem transport needs no server; Redis in production and tests.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = Path(os.environ.get("ESD_BROKER_DIR", VAR_DIR / "broker"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
else:
    # acks_late + a visibility timeout: a task whose worker died is redelivered to another worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    }
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "esd")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
HEALTHZ_WORKER_TIMEOUT = float(os.environ.get("HEALTHZ_WORKER_TIMEOUT", "5"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "webapp.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "monitoring.apis.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "monitoring.apis.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"upload": "60/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ESD Monitor API",
    "DESCRIPTION": "AOIs and static labels in; dynamic samples, land-cover and change maps out.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # served by the app: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "monitoring.apis.schema.add_error_responses",
        "monitoring.apis.schema.add_links",
    ],
}

# Base map of the map page: an XYZ tile URL ("" = none: only the world outline shipped in static/basemap,
# which is always drawn underneath, so the map is never blank offline).
ESD_BASEMAP_URL = os.environ.get("ESD_BASEMAP_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
ESD_BASEMAP_ATTRIBUTION = os.environ.get("ESD_BASEMAP_ATTRIBUTION", "© OpenStreetMap contributors")

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (-12.4, -55.8),
    "DEFAULT_ZOOM": 10,
    "RESET_VIEW": False,
    "TILES": [],
    "PLUGINS": {"forms": {"auto-include": True}},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "numexpr": {"level": "WARNING"}},
}
