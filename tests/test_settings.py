"""Settings come from the environment; production refuses insecure defaults; bad config is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_database_url_selects_postgis_engine() -> None:
    from webapp.settings.base import database_from_url

    config = database_from_url("postgres://postgres@127.0.0.1:5432/x")
    assert config["ENGINE"] == "django.contrib.gis.db.backends.postgis"
    assert config["NAME"] == "x"
    lite = database_from_url("spatialite:////tmp/x.sqlite3")
    assert lite["ENGINE"] == "django.contrib.gis.db.backends.spatialite"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {
                "DJANGO_SETTINGS_MODULE": "webapp.settings.production",
                "SECRET_KEY": "insecure-dev-key-change-me",
            },
            "SECRET_KEY",
        ),
        (
            {"DJANGO_SETTINGS_MODULE": "webapp.settings.production", "SECRET_KEY": "x" * 50, "DEBUG": "1"},
            "DEBUG",
        ),
    ],
)
def test_production_refuses_insecure_settings(env: dict[str, str], expected: str) -> None:
    result = run_manage("check", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], result.stderr


def test_production_settings_are_secure() -> None:
    code = (
        "import json, webapp.settings.production as s; "
        "print(json.dumps({k: getattr(s, k) for k in ['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', 'SECURE_HSTS_SECONDS', 'SESSION_COOKIE_HTTPONLY']}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update(SECRET_KEY="s" * 50, DATABASE_URL="postgis://postgres@127.0.0.1:5432/postgres")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_HTTPONLY": True,
    }


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"DATABASE_URL": "postgis://postgres@127.0.0.1:5999/nowhere"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://root@127.0.0.1/x"}, "DATABASE_URL"),
        (
            {
                "DATABASE_URL": "postgis://postgres@127.0.0.1:5432/postgres",
                "CELERY_BROKER_URL": "redis://127.0.0.1:6399/0",
            },
            "CELERY_BROKER_URL",
        ),
        ({"GDAL_LIBRARY_PATH": "/nonexistent/libgdal.so"}, "GDAL"),
    ],
)
def test_bad_configuration_stops_with_one_line(env: dict[str, str], setting: str) -> None:
    result = run_manage("preflight", DJANGO_SETTINGS_MODULE="webapp.settings.base", **env)
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert setting in lines[0]
    assert "Traceback" not in result.stderr
