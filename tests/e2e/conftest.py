"""Browser fixtures: headless Debian Chromium driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.monitoring.conftest import demo_store, demo_store_dir  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parents[2]
# Screenshots go to a temporary folder unless ESD_SCREENSHOTS names one: `make screenshots` sets it to
# docs/screenshots, so an ordinary test run never rewrites the committed images.
SCREENSHOTS = Path(os.environ.get("ESD_SCREENSHOTS") or Path(tempfile.gettempdir()) / "esd-screenshots")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORTS = {"wide": {"width": 1366, "height": 768}, "tablet": {"width": 768, "height": 1024}}
PASSWORD = "e2e-pass-2026"


@dataclass
class ConsoleLog:
    """Console errors and uncaught exceptions of a page; ``allow`` holds substrings of expected ones."""

    errors: list[str] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allow)]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless; never a downloaded browser (no ``playwright install``)."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop running in the test thread while the browser is open;
    # the ORM calls the tests make from that thread are plain synchronous ones, so let Django allow them
    # (only for this module: the browser is closed and the flag restored at its end).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def e2e_user(django_user_model):
    return django_user_model.objects.create_user("mapper", password=PASSWORD)


@pytest.fixture
def page(browser, live_server, e2e_user):
    """A logged-in page at 1366 x 768 on the map, with its console errors in ``page.console_log``."""
    page = new_page(browser, "wide")
    sign_in(page, live_server.url, e2e_user.username)
    yield page
    page.context.close()


def sign_in(page, server_url: str, username: str, next_path: str = "/") -> None:
    """Log in through the form and wait until the map page says it is ready."""
    page.goto(f"{server_url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached")


def upload_mt_inputs(page, tmp_path: Path, shared_data: Path) -> None:
    """Upload the Mato Grosso 2011-12 labels and the demo AOI ("MT uploaded") through the Data tab."""
    from testkit.mato_grosso import static_labels_csv

    labels_csv = tmp_path / "mt_2011_2012.csv"
    labels_csv.write_bytes(static_labels_csv(shared_data))
    page.set_input_files("#labels-file", str(labels_csv))
    page.click("#labels-upload button[type=submit]")
    page.wait_for_selector("#labels-upload-report .ok")
    page.click("text=Upload an area")
    aoi = Path(__file__).resolve().parents[1] / "data" / "uploads" / "aoi_mt.geojson"
    page.set_input_files("#aoi-file", str(aoi))
    page.fill("#aoi-name", "MT uploaded")
    page.click("#aoi-upload button[type=submit]")
    page.wait_for_selector("#aoi-list li:has-text('MT uploaded')")


def shot(page, name: str) -> Path:
    """Save a screenshot of the page as ``<SCREENSHOTS>/<name>.png`` (a temporary folder unless
    ``ESD_SCREENSHOTS`` is set, see ``make screenshots``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request) -> str:
    """Each issue-16 browser test runs at 1366 x 768 ("wide") and 768 x 1024 ("tablet")."""
    return request.param


def new_page(browser, viewport: str):
    """A fresh browser context at the viewport, with its console errors in ``page.console_log``."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], accept_downloads=True)
    page = context.new_page()
    log = ConsoleLog()
    page.on(
        "console",
        lambda m: log.errors.append(f"{m.text} @ {m.location.get('url', '')}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: log.errors.append(f"pageerror: {exc}"))
    page.set_default_timeout(20_000)
    page.console_log = log
    return page
