"""CSRF: every HTML form and every unsafe API method under session auth is refused without the token."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tests.security.world import World, routes

pytestmark = pytest.mark.django_db

FORM_RE = re.compile(r"<form\b[^>]*>", re.IGNORECASE)
ACTION_RE = re.compile(r'action="([^"]*)"', re.IGNORECASE)
# Object ids need not exist: the CSRF check runs before any object is looked up.
FAKE_WORLD = World(aoi=1, label_set=1, label=1, analysis=1, product=1, similar_token="a" * 32)


def _post_forms(page: str, client: Client) -> list[tuple[str, bool]]:
    """(action URL, holds a csrfmiddlewaretoken) of every POST form of a page."""
    response = client.get(page, follow=True)
    html = response.content.decode(errors="replace")
    forms = []
    for match in FORM_RE.finditer(html):
        tag = match.group(0)
        if 'method="post"' not in tag.lower():
            continue
        action = ACTION_RE.search(tag)
        end = html.find("</form>", match.end())
        forms.append(
            (
                action.group(1) if action and action.group(1) else response.request["PATH_INFO"],
                "csrfmiddlewaretoken" in html[match.end() : end],
            )
        )
    return forms


def test_every_html_form_needs_the_csrf_token(owner) -> None:
    pages = [
        "/" + r.route
        for r in routes()
        if not r.is_api and not r.kwargs and not r.route.startswith("admin") and "get" in r.methods
    ]
    found: dict[str, bool] = {}
    for user in (None, owner):
        client = Client(enforce_csrf_checks=True)
        if user is not None:
            client.force_login(user)
        for page in pages:
            for action, has_token in _post_forms(page, client):
                found[action] = has_token
                response = client.post(action, {"username": "x", "password": "y"})
                assert response.status_code == 403, (action, response.status_code)
    assert found, "no POST form found on any page"
    assert all(found.values()), {a: t for a, t in found.items() if not t}
    assert {"/accounts/login/", "/accounts/signup/"} <= set(found)
    print(f"CSRF: {len(found)} HTML forms refused without the token: {sorted(found)}")


def test_every_unsafe_api_method_needs_the_csrf_token_under_session_auth(owner) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    checked = []
    for route in routes():
        if not route.is_api or route.name == "api-token":  # the token login takes no session
            continue
        url = FAKE_WORLD.fill(route)
        for method in route.methods:
            if method == "get":
                continue
            response = getattr(client, method)(url, data=json.dumps({}), content_type="application/json")
            assert response.status_code == 403, (method, url, response.status_code)
            assert "CSRF" in response.json()["detail"], response.json()
            checked.append(f"{method.upper()} {url}")
    assert len(checked) >= 10
    # with the token the same session is let through (the refusal above is the CSRF check)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/aois/", data=json.dumps({}), content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400
    print(f"CSRF: {len(checked)} unsafe API calls refused without the token")
