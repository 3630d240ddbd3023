"""The map page in headless Chromium against the real server, worker, PostGIS and Redis.

One user session goes through the whole issue: draw an AOI, upload labels, run an analysis on the real
Mato Grosso demo store, watch the progress, browse the years, query a pixel, review, find similar
pixels and add two as labels, download the samples. Screenshots go to ``docs/screenshots/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from monitoring.models import AOI, DynamicSample, Label, LabelSet
from testkit.mato_grosso import static_labels_csv
from tests.e2e.conftest import shot, upload_mt_inputs

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
BAD_INPUTS = REPO / "tests" / "data" / "bad_inputs"
DEMO_EXTENT = (-55.99, -12.05, -55.91, -11.99)  # the demo raster (w, s, e, n)


def map_point(page, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates (px) of a lon/lat on the Leaflet map."""
    pt = page.evaluate(
        "([lat, lon]) => { const m = esdApp.map.map; const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )
    return pt[0], pt[1]


def tile_srcs(page, cls: str) -> set[str]:
    return set(page.eval_on_selector_all(f".{cls} img.leaflet-tile", "els => els.map(e => e.src)"))


def wait_tiles_loaded(page, cls: str) -> set[str]:
    page.wait_for_function(
        "cls => { const t = document.querySelectorAll('.' + cls + ' img.leaflet-tile');"
        " return t.length > 0 && [...t].every(i => i.complete && i.naturalWidth > 0); }",
        arg=cls,
    )
    return tile_srcs(page, cls)


def test_bad_upload_shows_its_error_next_to_the_map(demo_store, page) -> None:
    page.console_log.allow.append("status of 400")  # the refused upload itself
    page.set_input_files("#labels-file", str(BAD_INPUTS / "swapped_lon_lat.csv"))
    page.click("#labels-upload button[type=submit]")
    error = page.wait_for_selector("#labels-upload-report .error")
    assert "longitude and latitude look swapped" in error.inner_text()
    assert error.is_visible() and error.get_attribute("role") == "alert"
    assert not LabelSet.objects.exists()
    shot(page, "bad_upload")
    # the AOI upload shows its own refusal too
    page.click("text=Upload an area")
    page.set_input_files("#aoi-file", str(BAD_INPUTS / "aoi_points.geojson"))
    page.click("#aoi-upload button[type=submit]")
    assert "only polygons" in page.wait_for_selector("#aoi-upload-report .error").inner_text()
    assert page.console_log.unexpected() == []


def test_controls_have_names_and_the_page_fits_the_screen(page) -> None:
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('.sidepanel input, .sidepanel select, .sidepanel textarea,'
                 + ' .sidepanel button, .leaflet-control a')]
           .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                        && !e.closest('label') && !e.textContent.trim() && !e.title)
           .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    assert page.get_attribute("#year-slider", "type") == "range"
    size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size == [1366, 768]  # no page scroll at 1366 x 768: the side panel scrolls inside
    # tabs by keyboard
    page.focus("#tab-data")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-run"
    assert page.is_visible("#run-form") and not page.is_visible("#labels-upload")
    assert page.console_log.unexpected() == []


def test_edit_and_delete_an_area_with_the_draw_tools(demo_store, page) -> None:
    page.click("text=Upload an area")
    page.set_input_files("#aoi-file", str(REPO / "tests" / "data" / "uploads" / "aoi_mt.geojson"))
    page.click("#aoi-upload button[type=submit]")
    page.wait_for_selector("#aoi-list li:has-text('dtwSat Mato Grosso')")
    assert "accepted" in page.inner_text("#aoi-upload-report")
    aoi = AOI.objects.get()
    area = aoi.area_km2

    # edit: drag one vertex outwards, save
    page.click(".leaflet-draw-edit-edit")
    handle = page.locator(".leaflet-editing-icon").first
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cx, cy = map_point(page, -55.95, -12.015)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + (x - cx) * 0.3, y + (y - cy) * 0.3, steps=5)
    page.mouse.up()
    page.click(".leaflet-draw-actions a:has-text('Save')")
    page.wait_for_selector("#toast:has-text('Saved 1 edited area')")
    aoi.refresh_from_db()
    assert aoi.area_km2 > area * 1.02

    # delete: pick the area, save
    page.click(".leaflet-draw-edit-remove")
    px, py = map_point(page, -55.95, -12.015)
    page.mouse.click(px, py)
    page.click(".leaflet-draw-actions a:has-text('Save')")
    page.wait_for_selector("#aoi-list li.empty")
    assert not AOI.objects.exists()

    # a label set is deleted from its list (after the confirmation dialog)
    page.set_input_files("#labels-file", str(REPO / "tests" / "data" / "uploads" / "labels_mt.csv"))
    page.click("#labels-upload button[type=submit]")
    page.wait_for_selector("#labels-upload-report .ok")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#labelset-list li button[data-act=delete]")
    page.wait_for_selector("#labelset-list li.empty")
    assert not LabelSet.objects.exists()
    assert page.console_log.unexpected() == []


def test_whole_workflow_in_the_browser(demo_store, celery_worker, shared_data, tmp_path, page) -> None:
    log = page.console_log
    # -- upload the real 2011-12 labels: the report appears next to the map
    labels_csv = tmp_path / "mt_2011_2012.csv"
    labels_csv.write_bytes(static_labels_csv(shared_data))
    n_labels = len(labels_csv.read_text().splitlines()) - 1
    page.set_input_files("#labels-file", str(labels_csv))
    page.fill("#labels-name", "MT crop year 2011-12")
    page.click("#labels-upload button[type=submit]")
    ok = page.wait_for_selector("#labels-upload-report .ok")
    assert re.search(rf"\b{n_labels}\b accepted", ok.inner_text()), ok.inner_text()
    page.wait_for_selector("#labelset-list li:has-text('MT crop year 2011-12')")
    shot(page, "upload_report")

    # -- draw the AOI with Leaflet.draw's rectangle tool (mouse events on the map)
    w, s, e, n = DEMO_EXTENT
    page.evaluate(f"() => {{ esdApp.map.map.fitBounds([[{s}, {w}], [{n}, {e}]], {{padding: [60, 60]}}); }}")
    page.wait_for_timeout(400)
    page.click(".leaflet-draw-draw-rectangle")
    x0, y0 = map_point(page, w + 0.005, n - 0.005)
    x1, y1 = map_point(page, e - 0.005, s + 0.005)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    page.wait_for_selector("#aoi-pending:not([hidden])")
    page.fill("#aoi-pending-name", "MT demo drawn")
    page.click("#aoi-save")
    page.wait_for_selector("#aoi-list li:has-text('MT demo drawn')")
    shot(page, "map_with_aoi")

    # -- start an analysis on crop years (Sep -> Aug) and watch it reach 100 %
    page.click("#tab-run")
    page.select_option("#run-aoi", label="MT demo drawn")
    page.select_option("#run-labels", label=f"MT crop year 2011-12 ({n_labels})")
    page.fill("#run-start", "2007")
    page.fill("#run-end", "2013")
    page.select_option("#run-month", "9")
    page.click("text=Advanced parameters (JSON)")
    page.fill("#run-params", json.dumps({"tasgen": {"epochs": 60}}))
    page.click("#run-start-btn")
    page.wait_for_function("document.getElementById('run-progress').value > 0", timeout=60_000)
    # progress within the stage and the time so far / left, from the workers' step and the start time
    page.wait_for_function(
        "document.getElementById('run-step').textContent.includes('elapsed')", timeout=60_000
    )
    shot(page, "progress")
    page.wait_for_function(
        "document.getElementById('run-percent').textContent === '100%'", timeout=240_000, polling=500
    )
    assert page.inner_text("#run-stage") == "Done"
    pk = int(page.wait_for_selector("body[data-analysis]", state="attached").get_attribute("data-analysis"))

    # -- results: tiles of the last year, then the slider (keyboard) changes them
    page.wait_for_selector("#results:not([hidden])")
    assert page.input_value("#year-slider") == "6"
    before = wait_tiles_loaded(page, "product-tiles")
    page.focus("#year-slider")
    page.keyboard.press("ArrowLeft")
    assert page.inner_text("#year-value") == "2012"
    page.wait_for_function(
        "old => { const s = [...document.querySelectorAll('.product-tiles img.leaflet-tile')].map(e => e.src);"
        " return s.length > 0 && !s.some(x => old.includes(x)); }",
        arg=sorted(before),
    )
    after = wait_tiles_loaded(page, "product-tiles")
    assert after.isdisjoint(before)
    assert page.locator("#legend .item").count() == 5  # the four MT classes and the open-set "unknown"
    # Chart.js stacked bars: one dataset per class, one bar per year, PNG/CSV export buttons
    chart = page.evaluate(
        "(() => { const c = document.getElementById('area-chart')._chart;"
        " return [c.data.labels, c.data.datasets.map(d => d.label)]; })()"
    )
    assert chart[0] == [str(y) for y in range(2007, 2014)]
    assert set(chart[1]) - {"unknown"} == {"Cotton-fallow", "Forest", "Soybean-cotton", "Soybean-millet"}
    assert page.is_visible("#area-chart [data-fmt=png]") and page.is_visible("#area-chart [data-fmt=csv]")
    assert "agreement with your labels" in page.inner_text("#accuracy")
    page.check("#show-samples")  # dynamic samples of 2012, changed ones ringed
    page.wait_for_function("esdApp.map.samples.getLayers().length > 0")
    year_samples = DynamicSample.objects.filter(analysis_id=pk, year=2012).count()
    assert page.evaluate("esdApp.map.samples.getLayers().length") == year_samples
    shot(page, "results")
    # compare two years side by side
    page.check("#swipe-on")
    wait_tiles_loaded(page, "compare-tiles")
    assert page.is_visible("#swipe-divider")
    shot(page, "compare_years")
    page.uncheck("#swipe-on")
    # the uncertainty of the year: its own layer with a ramp legend; the temporal step's own table
    page.check('input[name="layer"][value="uncertainty"]')
    wait_tiles_loaded(page, "product-tiles")
    assert page.locator("#legend .ramp").count() == 1
    assert "all classes equal" in page.inner_text("#map-legend")
    assert "Changed by the temporal step" in (page.text_content("#transition-table") or "")
    page.check('input[name="layer"][value="landcover"]')

    # -- click a pixel: its monthly series and classes
    px, py = map_point(page, -55.95, -12.02)
    page.mouse.click(px, py)
    page.wait_for_selector("#pixel-chart canvas")
    # one line per decoded band when the store's decoder is known, else the six embedding dims
    bands = page.evaluate("esdApp.pixel.last.report.bands")
    names = page.evaluate("document.getElementById('pixel-chart')._chart.data.datasets.map(d => d.label)")
    assert len(names) == (len(bands) if bands else 6)
    if bands:
        assert names == bands
    assert page.locator("#pixel-classes div").count() == 7
    shot(page, "pixel_chart")

    # -- similar pixels: heat layer, pick two, add them as labels of a class
    label_set = LabelSet.objects.get(name="MT crop year 2011-12")
    page.click("#similar-btn")
    page.wait_for_selector("#similar-list li")
    wait_tiles_loaded(page, "similar-tiles")
    page.locator("#similar-list input[type=checkbox]").nth(1).check()
    page.locator("#similar-list input[type=checkbox]").nth(2).check()
    page.fill("#similar-class", "Forest")
    assert page.inner_text("#similar-add-btn") == "Add 2 selected as labels"
    shot(page, "similar_pixels")
    page.click("#similar-add-btn")
    page.wait_for_selector("#similar-msg .ok")
    assert "Added 2 labels" in page.inner_text("#similar-msg")
    assert Label.objects.filter(label_set=label_set).count() == n_labels + 2
    assert Label.objects.filter(label_set=label_set, klass="Forest").order_by("-pk")[
        0
    ].reference_date.year in (
        2011,
        2012,
    )

    # -- review queue: chart of the first item, confirm it
    page.click("#tab-review")
    first = page.wait_for_selector("#review-list > li .from-to")
    assert first.is_visible()
    item = page.locator("#review-list > li").first
    item.locator("[data-act=chart]").click()
    item.locator(".chart canvas").first.wait_for()
    item.locator("[data-act=confirm]").click()
    page.wait_for_selector("#review-list > li.saved")
    top = DynamicSample.objects.get(analysis_id=pk, pk=int(item.get_attribute("data-sample") or 0))
    top.label.refresh_from_db()
    assert top.label.corrected_class == {str(top.year): top.dynamic_class}
    shot(page, "review_queue")

    # -- download the samples and check the file
    page.click("#tab-results")
    page.locator("#downloads").scroll_into_view_if_needed()
    shot(page, "results_accuracy")
    with page.expect_download() as info:
        page.click("#downloads a:has-text('Samples GeoJSON')")
    path = info.value.path()
    geojson = json.loads(Path(path).read_text())
    assert len(geojson["features"]) == DynamicSample.objects.filter(analysis_id=pk).count() > n_labels
    assert {"year", "dynamic_class", "changed"} <= set(geojson["features"][0]["properties"])

    with page.expect_download() as info:
        page.click("#downloads a:has-text('Stand-alone HTML')")
    assert info.value.suggested_filename == f"analysis_{pk}_map.html"
    assert "<html" in Path(info.value.path()).read_text()[:2000].lower()

    assert log.unexpected() == [], log.unexpected()


def test_cancel_from_the_run_panel(demo_store, celery_worker, shared_data, tmp_path, page) -> None:
    upload_mt_inputs(page, tmp_path, shared_data)

    page.click("#tab-run")
    page.fill("#run-start", "2007")
    page.fill("#run-end", "2013")
    page.select_option("#run-month", "9")
    page.click("text=Advanced parameters (JSON)")
    page.fill("#run-params", json.dumps({"tasgen": {"epochs": 400}}))
    page.click("#run-start-btn")
    page.wait_for_function("document.getElementById('run-progress').value >= 40", timeout=90_000)
    page.click("#run-cancel")
    error = page.wait_for_selector("#run-error:not([hidden])")
    assert error.inner_text() == "The analysis was cancelled."
    assert page.is_hidden("#run-cancel")
    page.wait_for_selector("#analysis-list .status.cancelled")
    assert page.console_log.unexpected() == []
