"""A finished analysis in headless Chromium, at 1366 x 768 and 768 x 1024 (issue 16): the view lives in the
URL and the last analysis reopens; from -> to has one colour per pair, a year-pair choice and a single-change
filter; AOI outlines can be hidden and only the analysed one shows; Chart.js charts export PNG and CSV;
similar pixels default to the analysis's label set, name it, and leave the map with the Pixel tab; the
neighbouring years' tiles are fetched ahead; cancelled runs offer "Run again".

The analysis runs in the test process (``run_inline``) on the real Mato Grosso demo store.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitoring.models import Analysis, LabelSet
from monitoring.services.aois import aoi_create
from monitoring.services.labels import labelset_import
from monitoring.services.pipeline.runner import run_inline
from testkit.mato_grosso import static_labels_csv
from tests.e2e.conftest import PASSWORD, VIEWPORTS, new_page, shot

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DEMO_EXTENT = (-55.99, -12.05, -55.91, -11.99)


def box(w: float, s: float, e: float, n: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


@pytest.fixture
def done_analysis(demo_store, e2e_user, shared_data) -> Analysis:
    """The Mato Grosso demo analysis of ``e2e_user``, finished; an unrelated label set is newer (listed
    first) and a second AOI lies beside the analysed one."""
    labels, _ = labelset_import(
        owner=e2e_user, name="MT crop year 2011-12", filename="mt.csv", content=static_labels_csv(shared_data)
    )
    aoi, _ = aoi_create(owner=e2e_user, name="MT demo", geometry=box(*DEMO_EXTENT))
    w, s, e, n = DEMO_EXTENT
    aoi_create(owner=e2e_user, name="MT corner", geometry=box(w + 0.01, s + 0.01, w + 0.03, s + 0.03))
    analysis = Analysis.objects.create(
        owner=e2e_user,
        aoi=aoi,
        label_set=labels,
        start_year=2007,
        end_year=2013,
        name="MT demo run",
        parameters={"tasgen": {"epochs": 60}, "year_start_month": 9},
    )
    done = run_inline(analysis.pk)
    assert done.status == Analysis.Status.DONE, done.error_message
    labelset_import(
        owner=e2e_user,
        name="Unrelated set",
        filename="other.csv",
        content=b"lon,lat,class,date\n-55.95,-12.02,Forest,2012-01-01\n",
    )
    return done


def login(page, live_server, user, path: str = "/") -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={path}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached")


def product_srcs(page) -> list[str]:
    return page.eval_on_selector_all(".product-tiles img.leaflet-tile", "els => els.map(e => e.src)")


def wait_product_tiles(page) -> list[str]:
    page.wait_for_function(
        "() => { const t = document.querySelectorAll('.product-tiles img.leaflet-tile');"
        " return t.length > 0 && [...t].every(i => i.complete && i.naturalWidth > 0); }"
    )
    return product_srcs(page)


def test_results_view(done_analysis, live_server, browser, viewport, e2e_user) -> None:
    a = done_analysis
    lc = {p.year: p.pk for p in a.products.filter(kind="landcover")}
    page = new_page(browser, viewport)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))

    # -- a permalink opens the analysis at its year and layer
    login(page, live_server, e2e_user)
    page.goto(f"{live_server.url}/?shared#a={a.pk}&y=2010&l=landcover")
    page.wait_for_selector(f"body[data-analysis='{a.pk}']", state="attached")
    page.wait_for_selector("#results:not([hidden])")
    assert page.inner_text("#year-value") == "2010"
    srcs = wait_product_tiles(page)
    assert all(f"/products/{lc[2010]}/" in s for s in srcs)
    # the neighbouring years' tiles were asked for ahead of the slider
    page.wait_for_function(
        "ids => ids.every(id => [...esdApp.results.prefetched].some(u => u.includes('/products/' + id + '/')))",
        arg=[lc[2009], lc[2011]],
    )
    page.wait_for_timeout(300)
    assert any(f"/products/{lc[2011]}/" in u for u in requested)

    # -- only the analysed AOI is outlined; the toggle hides it too
    styles = page.evaluate(
        "esdApp.map.aois.getLayers().map(l => [l.aoiId === esdApp.state.analysis.aoi, l.options.opacity])"
    )
    assert sorted(styles) == [[False, 0], [True, 1]]
    page.uncheck("#show-aoi")
    assert page.evaluate("esdApp.map.aois.getLayers().every(l => l.options.opacity === 0)")
    page.check("#show-aoi")

    # -- from -> to: one colour per pair, the pairs present between the chosen years, a single-change filter
    page.check("input[name=layer][value=change_from_to]")
    assert page.is_visible("#fromto-from") and page.is_visible("#fromto-to")
    # the pair follows the slider (2009 -> 2010); any two years can be chosen
    assert (page.input_value("#fromto-from"), page.input_value("#fromto-to")) == ("2009", "2010")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.product-tiles img')].some(i => i.src.includes('/fromto/2009/2010/'))"
    )
    wait_product_tiles(page)
    page.select_option("#fromto-from", "2007")
    page.select_option("#fromto-to", "2013")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.product-tiles img')].some(i => i.src.includes('/fromto/2007/2013/'))"
    )
    wait_product_tiles(page)
    page.select_option("#fromto-from", "2009")
    page.select_option("#fromto-to", "2010")
    entries = page.eval_on_selector_all(
        "#legend .legend-pick",
        "bs => bs.map(b => [b.textContent, b.querySelector('.swatch').style.background])",
    )
    assert entries, "the legend lists the changes between 2009 and 2010"
    colours = [c for _, c in entries]
    assert len(set(colours)) == len(colours)  # e.g. A -> Forest and B -> Forest differ
    assert all(" → " in t and t.strip().endswith("ha") for t, _ in entries)
    page.locator("#legend .legend-pick").first.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.product-tiles img')].some(i => i.src.includes('only='))"
    )
    wait_product_tiles(page)
    assert page.get_attribute("#legend .legend-pick", "aria-pressed") == "true"
    shot(page, f"from_to_{viewport}")
    # the URL holds analysis, year, layer and view; a reload opens the same
    page.wait_for_function("() => location.hash.includes('l=change_from_to')")
    hash_ = page.evaluate("location.hash")
    assert re.search(rf"a={a.pk}&y=\d{{4}}&l=change_from_to&v=-?\d+\.\d+,-?\d+\.\d+,\d+", hash_), hash_
    page.reload()
    page.wait_for_selector(f"body[data-analysis='{a.pk}']", state="attached")
    assert page.is_checked("input[name=layer][value=change_from_to]")
    assert page.evaluate("location.hash").split("&v=")[0] == hash_.split("&v=")[0]
    # the last analysis reopens without any hash
    page.goto(f"{live_server.url}/?again")
    page.wait_for_selector(f"body[data-analysis='{a.pk}']", state="attached")
    page.wait_for_function("prefix => location.hash.startsWith(prefix)", arg=f"#a={a.pk}&")

    # -- charts: Chart.js with readable year axis, CSV and PNG export
    page.check("input[name=layer][value=landcover]")
    page.locator("#area-chart").scroll_into_view_if_needed()
    labels = page.evaluate("document.getElementById('area-chart')._chart.data.labels")
    assert labels == [str(y) for y in range(2007, 2014)]
    with page.expect_download() as info:
        page.click("#area-chart [data-fmt=csv]")
    csv_text = Path(info.value.path()).read_text()
    assert csv_text.splitlines()[0].startswith("year,") and len(csv_text.splitlines()) == 8
    with page.expect_download() as info:
        page.click("#area-chart [data-fmt=png]")
    assert Path(info.value.path()).read_bytes()[:4] == b"\x89PNG"
    shot(page, f"results_{viewport}")

    # -- similar pixels: the analysis's own set is the default, and named; the layer leaves with the tab
    page.evaluate("esdApp.pixel.query(-12.02, -55.95)")
    page.wait_for_selector("#pixel-chart canvas")
    page.click("#similar-btn")
    page.wait_for_selector("#similar-list li")
    assert page.input_value("#similar-labelset") == str(a.label_set_id)
    assert LabelSet.objects.filter(owner=e2e_user).order_by("-created_at")[0].name == "Unrelated set"
    assert page.inner_text("#similar-target") == 'to "MT crop year 2011-12"'
    before = {s.name: s.labels.count() for s in LabelSet.objects.filter(owner=e2e_user)}
    page.locator("#similar-list input[type=checkbox]").first.check()
    page.fill("#similar-class", "Forest")
    page.click("#similar-add-btn")
    page.wait_for_selector("#similar-msg .ok")
    assert 'to the label set "MT crop year 2011-12"' in page.inner_text("#similar-msg")
    after = {s.name: s.labels.count() for s in LabelSet.objects.filter(owner=e2e_user)}
    assert after == {**before, "MT crop year 2011-12": before["MT crop year 2011-12"] + 1}
    assert page.locator(".similar-tiles").count() == 1
    page.click("#tab-results")
    assert page.locator(".similar-tiles").count() == 0
    assert page.evaluate("esdApp.map.map.hasLayer(esdApp.map.similar)") is False
    page.click("#tab-pixel")
    assert page.locator(".similar-tiles").count() == 1

    # -- a cancelled run offers "Run again", which starts the same analysis anew
    cancelled = Analysis.objects.create(
        owner=e2e_user,
        aoi=a.aoi,
        label_set=a.label_set,
        start_year=2008,
        end_year=2012,
        name="cancelled run",
        parameters={"year_start_month": 9},
        status=Analysis.Status.CANCELLED,
    )
    page.click("#tab-run")
    page.evaluate("esdApp.run.refreshList()")
    row = page.locator("#analysis-list li", has_text="cancelled run")
    row.locator("[data-act=again]").click()
    page.wait_for_function("() => !document.getElementById('run-status').hidden")
    again = Analysis.objects.exclude(pk__in=[a.pk, cancelled.pk]).get()
    assert (again.start_year, again.end_year, again.aoi_id, again.label_set_id) == (
        2008,
        2012,
        a.aoi_id,
        a.label_set_id,
    )
    assert again.parameters.get("year_start_month") == 9
    page.click("#run-cancel")
    page.wait_for_selector("#run-error:not([hidden])")
    size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size == [VIEWPORTS[viewport]["width"], VIEWPORTS[viewport]["height"]]
    assert page.console_log.unexpected() == []
    page.context.close()
