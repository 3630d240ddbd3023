"""Access matrix: every URL pattern (from the resolver) x every method x anonymous / owner / other user.

Objects belong to ``owner`` (a real finished analysis of the Mato Grosso demo). Rules:
- anonymous: refused (401/403, or a redirect to the login page) except on the public routes below;
- owner: GET answers 2xx; other methods are not refused (no 401/403/404) and never 5xx;
- other user: every URL naming an owner's object answers 404 for every method (and DELETE removes
  nothing); list endpoints and shared ones never contain the owner's ids or names.
A new endpoint joins the matrix by itself; one with an unknown URL kwarg fails until ``world.py``
knows a value for it. The matrix size and the leaks are printed (``-s``) for docs/benchmarks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from monitoring.models import AOI, Analysis, LabelSet
from tests.security.world import DEMO_LAT, DEMO_LON, SECRET_NAME, Route, World, routes

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Routes anyone may call (by URL name): API schema and docs, upload templates, token login, health,
# and the account pages.
PUBLIC = {
    "api-schema",
    "api-docs",
    "api-redoc",
    "template-list",
    "template-download",
    "api-token",
    "healthz",
    "signup",
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}
# Query strings an owner's GET needs to answer 2xx.
QUERY = {"analysis-pixel": f"?lon={DEMO_LON}&lat={DEMO_LAT}"}
# Bodies of unsafe methods (the owner's call must be authorised; other users' must be 404 first).
BODY: dict[str, dict[str, Any]] = {
    "analysis-similar": {"lon": DEMO_LON, "lat": DEMO_LAT, "year": 2010},
    "label-correct": {"year": 2010, "klass": None},
}
# Deleting removes what other checks need: deletes run last, in this order.
DELETE_ORDER = ["analysis-detail", "aoi-detail", "labelset-detail"]
NOT_AUTHORISED = {401, 403}


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _call(client: Client, method: str, url: str, name: str):
    if method == "get":
        return client.get(url + QUERY.get(name, ""))
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(url, data=json.dumps(BODY.get(name, {})), content_type="application/json")


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _ids(data: Any) -> set[int]:
    """Every integer under an ``id`` key of a JSON document."""
    found: set[int] = set()
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "id" and isinstance(v, int):
                found.add(v)
            else:
                found |= _ids(v)
    elif isinstance(data, list):
        for v in data:
            found |= _ids(v)
    return found


def _is_login_redirect(response) -> bool:
    return response.status_code in (301, 302) and "login" in response.get("Location", "")


def _check_other(route: Route, method: str, url: str, response, world: World) -> str | None:
    """A leak found in another user's answer, or None."""
    owned_url = any(k in route.kwargs for k in ("pk", "product_pk")) and route.name not in PUBLIC
    if owned_url and response.status_code != 404:
        return f"other {method.upper()} {url} -> {response.status_code} (want 404)"
    if response.status_code >= 500:
        return f"other {method.upper()} {url} -> {response.status_code}"
    content = _body(response)
    if SECRET_NAME.encode() in content:
        return f"other {method.upper()} {url}: the owner's analysis name is in the answer"
    if 200 <= response.status_code < 300 and "json" in response.get("Content-Type", ""):
        leaked = _ids(json.loads(content or b"null")) & world.owned_ids
        if leaked and route.name not in {"api-schema"}:
            return f"other {method.upper()} {url}: owner ids {sorted(leaked)[:5]} in the answer"
    return None


def test_access_matrix(world, owner, other) -> None:
    anonymous, mine, theirs = _client(), _client(owner), _client(other)
    all_routes = routes()
    api_routes = [r for r in all_routes if r.is_api]
    assert len(api_routes) >= 20
    cells = 0
    leaks: list[str] = []
    errors: list[str] = []
    deletes: list[tuple[Route, str]] = []

    for route in all_routes:
        url = world.fill(route)
        for method in route.methods:
            if route.name == "logout" and method != "get":
                continue  # logging out would end the clients' sessions; test_csrf covers the form
            if method == "delete":
                deletes.append((route, url))
                continue
            # anonymous
            response = _call(anonymous, method, url, route.name)
            cells += 1
            refused = response.status_code in NOT_AUTHORISED or _is_login_redirect(response)
            if route.name not in PUBLIC and not refused:
                leaks.append(f"anonymous {method.upper()} {url} -> {response.status_code}")
            if response.status_code >= 500:
                errors.append(f"anonymous {method.upper()} {url} -> {response.status_code}")
            # other user (before the owner's unsafe calls change anything)
            response = _call(theirs, method, url, route.name)
            cells += 1
            if problem := _check_other(route, method, url, response, world):
                leaks.append(problem)
            # owner
            response = _call(mine, method, url, route.name)
            cells += 1
            status = response.status_code
            if (
                method == "get"
                and route.name not in {"logout", "admin:index"}
                and not (200 <= status < 300 or (route.name in PUBLIC and status in (301, 302)))
            ):
                errors.append(f"owner GET {url} -> {status}: {_body(response)[:200]!r}")
            if method != "get" and (status in NOT_AUTHORISED | {404} or status >= 500):
                errors.append(f"owner {method.upper()} {url} -> {status}: {_body(response)[:200]!r}")

    # an owner's objects used by another user in a create call: 404, nothing created
    before = Analysis.objects.count()
    response = theirs.post(
        "/api/analyses/",
        data=json.dumps(
            {"aoi": world.aoi, "label_set": world.label_set, "start_year": 2007, "end_year": 2013}
        ),
        content_type="application/json",
    )
    cells += 1
    if response.status_code != 404 or Analysis.objects.count() != before:
        leaks.append(f"other POST /api/analyses/ with the owner's AOI -> {response.status_code}")

    # deletes last: anonymous and other user refused and nothing removed, then the owner's delete works
    deletes.sort(key=lambda d: DELETE_ORDER.index(d[0].name) if d[0].name in DELETE_ORDER else -1)
    for _route, url in deletes:
        counts = (AOI.objects.count(), LabelSet.objects.count(), Analysis.objects.count())
        for who, client in (("anonymous", anonymous), ("other", theirs)):
            response = client.delete(url)
            cells += 1
            ok = response.status_code in NOT_AUTHORISED if who == "anonymous" else response.status_code == 404
            unchanged = counts == (AOI.objects.count(), LabelSet.objects.count(), Analysis.objects.count())
            if not (ok and unchanged):
                leaks.append(f"{who} DELETE {url} -> {response.status_code}, rows unchanged: {unchanged}")
        response = mine.delete(url)
        cells += 1
        if response.status_code != 204:
            errors.append(f"owner DELETE {url} -> {response.status_code}")

    print(
        f"ACCESS MATRIX: {len(all_routes)} routes ({len(api_routes)} API), {cells} cells "
        f"(route x method x anonymous/owner/other), {len(leaks)} leaks, {len(errors)} errors"
    )
    assert not leaks, "\n".join(leaks)
    assert not errors, "\n".join(errors)
