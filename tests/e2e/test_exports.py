"""What leaves the app, in headless Chromium: the accuracy panel's two figures and the stand-alone HTML map
opened from disk with every request outside 127.0.0.1 blocked (it must need none at all).

The analysis is the real Mato Grosso demo, run in this process with a quick TasGen; the validation set is
the real labels of crop year 2010-11, held back from training.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from typing import Any, cast

import pytest
from rest_framework.test import APIClient

from monitoring.storage.paths import analysis_dir
from tests.monitoring.test_tiles import run_demo_analysis
from tests.monitoring.test_validation import upload_labels

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]
LOCAL = ("file:", "data:", "http://127.0.0.1", "http://localhost")


def test_accuracy_panel_and_offline_html_export(
    demo_store, shared_data, monkeypatch, page, browser, e2e_user, tmp_path
) -> None:
    client = APIClient()
    client.force_authenticate(e2e_user)
    pk = run_demo_analysis(client, shared_data, monkeypatch)
    held = upload_labels(client, shared_data, 2011, "MT 2010-11 held back")

    # -- the accuracy panel: agreement always, validation once assessed
    page.reload()
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.evaluate(f"esdApp.openAnalysis({pk})")
    page.wait_for_selector("#agreement")
    text = page.inner_text("#accuracy")
    assert "Agreement with your labels (grouped cross-validation)" in text
    assert "agreement with your labels" in text and "blocks" in text
    assert page.locator("#validation").count() == 0
    page.select_option("#validation-set", str(held))
    page.click("#validation-btn")
    page.wait_for_selector("#validation .validation-year[data-year='2011']")
    text = page.inner_text("#validation")
    assert "area-adjusted, Olofsson et al. 2014" in text and "overall accuracy 2011 (95% CI)" in text
    assert "±" in text and "Adjusted ha (95% CI)" in text and "left out" in text
    assert "MT 2010-11 held back" in text
    # the set is now a validation set: marked in the Data list and not offered for training
    page.wait_for_selector(
        "#labelset-list li:has-text('MT 2010-11 held back') .meta:has-text('validation')", state="attached"
    )
    assert "MT 2010-11 held back" not in page.inner_text("#run-labels")
    page.locator("#accuracy").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "accuracy_validation.png"))
    # the panel reopens with the stored assessment
    page.evaluate(f"esdApp.openAnalysis({pk})")
    page.wait_for_selector("#validation .validation-year")
    # map downloads are zips, in the CRS chosen beside them
    assert page.get_attribute("#cog-link", "href").endswith("/package.zip?crs=native")
    page.select_option("#cog-crs", "utm")
    assert page.get_attribute("#cog-link", "href").endswith("/package.zip?crs=utm")
    assert page.console_log.unexpected() == [], page.console_log.unexpected()

    # -- every class map package: gdalinfo lists the class names, in each CRS
    products = client.get(f"/api/analyses/{pk}/").json()["products"]
    classes = [c["name"] for c in client.get(f"/api/analyses/{pk}/").json()["classes"]]
    for p in products:
        if p["kind"] not in ("landcover", "change_from_to", "change_count", "change_last_year"):
            continue
        for crs, epsg in (("native", None), ("EPSG:4326", "4326"), ("utm", "32721")):
            if crs != "native" and p["kind"] == "landcover" and p["year"] != 2013:
                continue  # one year is enough for the reprojections
            response = client.get(f"{p['package']}?crs={crs}")
            assert response.status_code == 200 and response["Content-Type"] == "application/zip"
            folder = tmp_path / f"{p['id']}_{crs.replace(':', '')}"
            with zipfile.ZipFile(io.BytesIO(b"".join(cast(Any, response).streaming_content))) as zf:
                zf.extractall(folder)
            (tif,) = folder.glob("*.tif")
            assert {f.name for f in folder.iterdir()} == {
                tif.name,
                f"{tif.name}.aux.xml",
                f"{tif.stem}.qml",
                f"{tif.stem}_codes.csv",
                "README.txt",
            }
            info = subprocess.run(["gdalinfo", str(tif)], check=True, capture_output=True, text=True).stdout
            assert "LAYOUT=COG" in info and "Color Table" in info and "<GDALRasterAttributeTable" in info
            if p["kind"] == "change_last_year":  # uint16 years: a RAT, no category list
                assert "<F>last change in 2013</F>" in info
            else:
                assert "Categories:" in info, info[:2000]
            if p["kind"] == "change_count":
                assert "1: 1 change" in info
            elif p["kind"] == "landcover":
                assert all(f"{i}: {name}" in info for i, name in enumerate(classes)), (classes, info[-3000:])
            elif p["kind"] == "change_from_to":
                assert f"2: {classes[0]} → {classes[1]}" in info
            if epsg:
                assert f'ID["EPSG",{epsg}]' in info
    assert client.get(f"{products[0]['package']}?crs=EPSG:3857").status_code == 400

    # -- the stand-alone HTML map, opened from disk, offline
    export = client.get(f"/api/analyses/{pk}/export.html")
    assert export.status_code == 200
    path = tmp_path / "analysis_map.html"
    path.write_bytes(export.content)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, offline=True)
    requested: list[str] = []
    blocked: list[str] = []

    def guard(route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    offline = context.new_page()
    errors: list[str] = []
    offline.on("request", lambda r: requested.append(r.url))
    offline.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    offline.on("pageerror", lambda exc: errors.append(str(exc)))
    offline.goto(path.as_uri())
    offline.wait_for_selector("body[data-ready='1']", state="attached")
    # the land cover of the last year is drawn from the page's own data
    offline.wait_for_function(
        "() => { const i = document.querySelector('img.landcover-overlay');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert offline.get_attribute("img.landcover-overlay", "alt") == "Land cover 2013"
    samples = json.loads((analysis_dir(pk) / "samples.geojson").read_text())["features"]
    n_2013 = sum(f["properties"]["year"] == 2013 for f in samples)
    assert offline.locator("path.sample-marker").count() == n_2013 > 0
    assert offline.locator("path.leaflet-interactive:not(.sample-marker)").count() == 1  # the AOI
    assert offline.locator(".legend-item").count() == len(classes)
    offline.screenshot(path=str(tmp_path / "html_export_offline.png"))
    # the year slider switches land cover and samples together
    first = offline.get_attribute("img.landcover-overlay", "src")
    offline.fill("#export-year", "0")
    offline.wait_for_selector("body[data-year='2007']", state="attached")
    assert offline.get_attribute("img.landcover-overlay", "alt") == "Land cover 2007"
    assert offline.get_attribute("img.landcover-overlay", "src") != first
    assert offline.locator("path.sample-marker").count() == sum(
        f["properties"]["year"] == 2007 for f in samples
    )
    # a change map instead of the land cover, with its own legend
    offline.select_option("#export-layer", label="Year of last change")
    offline.wait_for_function(
        "() => { const i = document.querySelector('img.change-overlay');"
        " return i && i.complete && i.naturalWidth > 0 && i.alt === 'Year of last change'; }"
    )
    assert offline.locator("img.landcover-overlay").count() == 0
    legend = offline.inner_text("#export-map-legend")
    assert "last change in" in legend and offline.is_hidden("#export-legend")
    from_to = offline.eval_on_selector(
        "#export-layer", "s => [...s.options].find(o => o.text.startsWith('From → to')).value"
    )
    offline.select_option("#export-layer", from_to)
    offline.wait_for_function(
        "() => document.querySelector('img.change-overlay').alt.startsWith('From → to')"
    )
    assert "→" in offline.inner_text("#export-map-legend")
    offline.screenshot(path=str(tmp_path / "html_export_change.png"))
    offline.select_option("#export-layer", "landcover")
    offline.wait_for_selector("img.landcover-overlay")
    offline.click("path.sample-marker >> nth=0", force=True)
    offline.wait_for_selector(".leaflet-popup-content table")
    assert blocked == [] and all(u.startswith(("file:", "data:")) for u in requested), (blocked, requested)
    assert errors == [], errors
    context.close()
