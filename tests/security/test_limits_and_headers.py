"""Upload size limits, downloads that take no path from the user, production headers and cookies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from monitoring.models import AOI, Analysis, LabelSet, MapProduct
from tests.monitoring.conftest import UPLOADS, upload
from tests.security.world import World, routes

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "....//....//etc/passwd",
    "/etc/passwd",
    "..\\..\\webapp\\settings\\base.py",
    "%2e%2e%2f%2e%2e%2fmanage.py",
]
# Bytes of files outside MEDIA_ROOT and static/ that must never be served.
OUTSIDE_MARKERS = [b"root:x:0:0", b"DEFAULT_SECRET_KEY", b"DJANGO_SETTINGS_MODULE"]


@pytest.mark.parametrize("url", ["/api/labelsets/upload/", "/api/aois/upload/"])
def test_upload_over_the_size_limit_is_413(api, url) -> None:
    limit = settings.ESD_UPLOAD_MAX_BYTES
    big = SimpleUploadedFile("big.geojson", b" " * (limit + 1))
    response = api.post(url, {"file": big}, format="multipart")
    assert response.status_code == 413
    assert "larger than the upload limit" in response.json()["detail"]
    with override_settings(ESD_UPLOAD_MAX_BYTES=1000):
        response = upload(api, url, UPLOADS / "labels_mt.geojson")
        assert response.status_code == 413 and "1000 bytes" in response.json()["detail"].replace(",", "")
    assert LabelSet.objects.count() == AOI.objects.count() == 0


def _served(response) -> bytes:
    return b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content


def test_no_download_serves_a_file_named_by_the_user(api, owner) -> None:
    """``../`` in every string URL parameter, query parameter and upload name serves nothing outside."""
    labels = upload(api, "/api/labelsets/upload/", UPLOADS / "labels_mt.csv").json()
    aoi = upload(api, "/api/aois/upload/", UPLOADS / "aoi_mt.geojson").json()
    analysis = Analysis.objects.create(
        owner=owner,
        aoi_id=aoi["id"],
        label_set_id=labels["id"],
        start_year=2007,
        end_year=2013,
        status=Analysis.Status.DONE,
    )
    # a product row whose stored path points outside MEDIA_ROOT (a tampered database) is still refused
    bad = [
        MapProduct.objects.create(
            analysis=analysis, kind="landcover", year=2000 + i, path=p, colormap="classes"
        )
        for i, p in enumerate(["../../../../etc/passwd", "/etc/passwd", str(REPO / "manage.py")])
    ]
    world = World(
        aoi=aoi["id"],
        label_set=labels["id"],
        label=1,
        analysis=analysis.pk,
        product=bad[0].pk,
        similar_token="x",
    )
    client = Client()
    client.force_login(owner)
    tried = 0
    for route in routes():
        if not route.is_api:
            continue
        string_kwargs = [k for k in route.kwargs if f"<str:{k}>" in route.route or f"<{k}>" in route.route]
        base = world.fill(route)
        urls = []
        for kw in string_kwargs:
            value = {"name": "labels_template.csv", "token": world.similar_token}[kw]
            urls += [(base.replace(value, t), True) for t in TRAVERSALS]
        if "get" in route.methods:  # query parameters the views ignore are fine; none may name a file
            urls += [(f"{base}?fmt={t}&name={t}&path={t}&file={t}", False) for t in TRAVERSALS]
        for url, in_path in urls:
            response = client.get(url)
            tried += 1
            assert response.status_code < 500, (url, response.status_code)
            assert not in_path or response.status_code in (400, 404), (url, response.status_code)
            body = _served(response)
            assert not any(m in body for m in OUTSIDE_MARKERS), url
    for product in bad:
        response = client.get(f"/api/analyses/{analysis.pk}/products/{product.pk}/download")
        assert response.status_code == 404
        assert not any(m in _served(response) for m in OUTSIDE_MARKERS)
    # an upload named with a path stores only a name and writes no file beside MEDIA_ROOT
    media_parent = set(Path(settings.MEDIA_ROOT).parent.iterdir())
    response = api.post(
        "/api/labelsets/upload/",
        {"file": SimpleUploadedFile("../../evil.csv", (UPLOADS / "labels_mt.csv").read_bytes())},
        format="multipart",
    )
    assert response.status_code == 201 and "/" not in response.json()["source_filename"]
    assert set(Path(settings.MEDIA_ROOT).parent.iterdir()) == media_parent
    assert tried >= 30
    print(f"DOWNLOADS: {tried} traversal URLs, none served a file outside MEDIA_ROOT/static")


def _production_settings() -> dict:
    """Security settings of ``webapp.settings.production`` (imported in a subprocess with a real key)."""
    names = [
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY",
        "X_FRAME_OPTIONS",
        "SECURE_PROXY_SSL_HEADER",
        "DEBUG",
    ]
    code = (
        "import json, webapp.settings.production as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    )
    env = dict(os.environ, SECRET_KEY="k" * 50, DEBUG="0")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    values = json.loads(out.stdout.strip().splitlines()[-1])
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def test_production_headers_and_cookies(owner) -> None:
    prod = _production_settings()
    assert prod["DEBUG"] is False
    with override_settings(**prod):
        client = Client()
        plain = client.get("/accounts/login/")
        assert plain.status_code == 301 and plain["Location"].startswith("https://")
        page = client.get("/accounts/login/", secure=True)
        assert page.status_code == 200
        assert page["X-Frame-Options"] == "DENY"
        assert page["X-Content-Type-Options"] == "nosniff"
        assert page["Referrer-Policy"] == "same-origin"
        assert "max-age=31536000" in page["Strict-Transport-Security"]
        assert page.cookies["csrftoken"]["secure"]
        owner.set_password("owner-pass-2026")
        owner.save()
        login = client.post(
            "/accounts/login/", {"username": "owner", "password": "owner-pass-2026"}, secure=True
        )
        assert login.status_code == 302
        session = login.cookies[settings.SESSION_COOKIE_NAME]
        assert session["secure"] and session["httponly"]
        api = client.get("/api/aois/", secure=True)
        assert api.status_code == 200 and api["X-Content-Type-Options"] == "nosniff"
