"""Similar pixels and the stand-alone HTML export, on a real Mato Grosso demo analysis."""

from __future__ import annotations

import json
import math
import re
import time

import numpy as np
import pytest

from monitoring.storage.paths import analysis_dir
from tests.monitoring.test_tiles import png_rgba, run_demo_analysis, tile_over

pytestmark = pytest.mark.django_db


def test_similar_pixels_and_html_export(api, other_api, demo_store, shared_data, monkeypatch) -> None:
    pk = run_demo_analysis(api, shared_data, monkeypatch)
    url = f"/api/analyses/{pk}/similar/"
    click = {"lon": -55.95, "lat": -12.02, "year": 2012}

    t0 = time.perf_counter()
    response = api.post(url, click, format="json")
    first_s = time.perf_counter() - t0
    assert response.status_code == 200, response.json()
    body = response.json()
    pixels = body["pixels"]
    assert body["year"] == 2012 and body["count"] == len(pixels) > 500  # 37 x 27 px AOI, all with data
    ref = body["reference"]
    assert abs(ref["lon"] - click["lon"]) < 0.003 and abs(ref["lat"] - click["lat"]) < 0.003  # pixel centre
    assert (pixels[0]["lon"], pixels[0]["lat"]) == (ref["lon"], ref["lat"])
    assert math.isclose(pixels[0]["similarity"], 1.0, abs_tol=1e-4)
    sims = np.array([p["similarity"] for p in pixels])
    assert (sims >= -1).all() and (sims <= 1).all() and (np.diff(sims[1:]) <= 0).all()
    assert sims.std() > 0.01  # the AOI is not uniform
    assert first_s < 5, first_s

    # the same pixel again: the stored answer
    t0 = time.perf_counter()
    again = api.post(url, click, format="json").json()
    assert again == body and time.perf_counter() - t0 < 1
    token = body["tiles"].split("/similar/")[1].split("/")[0]
    assert (analysis_dir(pk) / "similar" / f"{token}.tif").is_file()

    # the heat layer: similarity colours where above the threshold, transparent elsewhere
    z, x, y = tile_over(-55.95, -12.02, 12)
    tile_url = body["tiles"].format(z=z, x=x, y=y)
    assert tile_url.endswith("?threshold=0.8")
    heat = api.get(tile_url)
    assert heat.status_code == 200 and heat["Content-Type"] == "image/png" and "ETag" in heat
    shown_08 = (png_rgba(heat.content)[..., 3] > 0).sum()
    shown_00 = (png_rgba(api.get(tile_url.replace("0.8", "0.0")).content)[..., 3] > 0).sum()
    assert 0 < shown_08 < shown_00
    assert api.get(tile_url.replace("0.8", "high")).status_code == 400
    assert api.get(tile_url.replace(token, "0" * 24)).status_code == 404
    assert other_api.get(tile_url).status_code == 404

    # refusals: outside the AOI, a year outside the analysis, another user's analysis
    outside = api.post(url, {**click, "lon": -50.0}, format="json")
    assert outside.status_code == 400 and "outside the AOI" in outside.json()["detail"]
    assert api.post(url, {**click, "year": 2001}, format="json").status_code == 400
    assert api.post(url, {"lon": "x", "lat": 0, "year": 2012}, format="json").status_code == 400
    assert other_api.post(url, click, format="json").status_code == 404

    # stand-alone HTML map: Leaflet and the layers inlined (the samples, the AOI, the land-cover images)
    export = api.get(f"/api/analyses/{pk}/export.html")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/html")
    assert "attachment" in export["Content-Disposition"]
    html = export.content.decode()
    assert "<html" in html and "leaflet" in html.lower()
    samples = json.loads((analysis_dir(pk) / "samples.geojson").read_text())["features"]
    for feature in samples[:20]:
        lon, lat = feature["geometry"]["coordinates"]
        assert f"{lon}" in html and f"{lat}" in html
    assert "Dynamic samples 2013" in html and "Land cover 2013" in html
    assert "data:image/png;base64," in html
    # nothing to fetch (the offline rendering is tested in Chromium: tests/e2e/test_exports.py)
    assert not re.search(r"""<(script|link|img|iframe)[^>]*(src|href)=["']?(https?:)?//""", html)
    assert other_api.get(f"/api/analyses/{pk}/export.html").status_code == 404
