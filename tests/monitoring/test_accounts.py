"""Sign-up, log-in and log-out with Django auth; the map needs a login."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_login_page_renders() -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content and b"csrfmiddlewaretoken" in response.content


def test_map_requires_login() -> None:
    response = Client().get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_signup_login_logout_cycle() -> None:
    client = Client(enforce_csrf_checks=False)
    response = client.post(
        "/accounts/signup/",
        {"username": "ana", "password1": "a-Long-pass-2026", "password2": "a-Long-pass-2026"},
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="ana").exists()
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
    assert (
        client.post("/accounts/login/", {"username": "ana", "password": "a-Long-pass-2026"}).status_code
        == 302
    )
    assert client.get("/").status_code == 200


def test_login_is_csrf_protected() -> None:
    get_user_model().objects.create_user("bo", password="a-Long-pass-2026")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "bo", "password": "a-Long-pass-2026"})
    assert response.status_code == 403
