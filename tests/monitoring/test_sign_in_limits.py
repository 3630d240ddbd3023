"""Production-safe sign-in: throttled log-in and token endpoints, sign-up switch, demo password policy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management.base import CommandError
from django.test import Client, override_settings

from monitoring.management.commands.load_demo import DEFAULT_DEMO_PASSWORD, demo_password

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a-Long-pass-2026"
RATE = 5  # attempts per WINDOW seconds in these tests: a window short enough to wait out
WINDOW = 3


@pytest.fixture
def user():
    caches["default"].clear()  # the throttle's counts
    return get_user_model().objects.create_user("cy", password=PASSWORD)


def _wait_for_fresh_window() -> None:
    time.sleep(WINDOW + 0.2)


@override_settings(ESD_LOGIN_RATE=f"{RATE}/{WINDOW}s")
def test_login_brute_force_gets_429_and_the_user_is_let_in_after_the_window(user) -> None:
    client = Client()
    codes = [
        client.post("/accounts/login/", {"username": "cy", "password": f"guess-{i}"}).status_code
        for i in range(RATE + 5)
    ]
    assert codes[:RATE] == [200] * RATE  # the form again, with its error
    assert set(codes[RATE:]) == {429}, codes
    throttled = client.post("/accounts/login/", {"username": "cy", "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert b"Too many sign-in attempts" in throttled.content
    _wait_for_fresh_window()
    response = client.post("/accounts/login/", {"username": "cy", "password": PASSWORD})
    assert response.status_code == 302  # not locked out for good
    assert client.get("/").status_code == 200


@override_settings(ESD_LOGIN_RATE=f"{RATE}/{WINDOW}s")
def test_token_brute_force_gets_429_then_the_right_password_works(user) -> None:
    client = Client()
    codes = [
        client.post("/api/token/", {"username": "cy", "password": f"guess-{i}"}).status_code
        for i in range(RATE + 3)
    ]
    assert codes[:RATE] == [400] * RATE and set(codes[RATE:]) == {429}, codes
    _wait_for_fresh_window()
    response = client.post("/api/token/", {"username": "cy", "password": PASSWORD})
    assert response.status_code == 200 and len(response.json()["token"]) == 40


def test_signup_can_be_switched_off() -> None:
    assert b"Sign up" in Client().get("/accounts/login/").content
    with override_settings(ESD_ALLOW_SIGNUP=False):
        assert Client().get("/accounts/signup/").status_code == 404
        response = Client().post(
            "/accounts/signup/", {"username": "eve", "password1": PASSWORD, "password2": PASSWORD}
        )
        assert response.status_code == 404
        assert b"Sign up" not in Client().get("/accounts/login/").content
    assert not get_user_model().objects.filter(username="eve").exists()


def test_demo_password_policy() -> None:
    assert demo_password({}, production=False) == (DEFAULT_DEMO_PASSWORD, False)
    assert demo_password({"DEMO_PASSWORD": "mine-2026-long"}, production=True) == ("mine-2026-long", False)
    generated, printed = demo_password({}, production=True)
    assert printed and generated != DEFAULT_DEMO_PASSWORD and len(generated) >= 12
    assert demo_password({}, production=True)[0] != generated  # fresh each time
    for refused in (DEFAULT_DEMO_PASSWORD, "short"):
        with pytest.raises(CommandError):
            demo_password({"DEMO_PASSWORD": refused}, production=True)


def test_production_settings_mark_production() -> None:
    """``webapp.settings.production`` sets ``ESD_PRODUCTION`` (what ``load_demo`` reads)."""
    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="webapp.settings.production", SECRET_KEY="k" * 50, DEBUG="0"
    )
    code = "import django; django.setup(); from django.conf import settings; print(settings.ESD_PRODUCTION)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr[-2000:]
