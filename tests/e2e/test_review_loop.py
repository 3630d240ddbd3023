"""The review loop in headless Chromium: the queue with counts, keyboard moves, confirm, a new class,
a correction, "Apply reviews" -> the re-run opens with new maps. Real server, worker, PostGIS, Redis."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from monitoring.models import Analysis, DynamicSample, Review
from tests.monitoring.test_pipeline import start_demo_analysis, wait_done

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_review_apply_in_the_browser(
    demo_store, celery_worker, shared_data, tmp_path, e2e_user, page
) -> None:
    client = APIClient()
    client.force_authenticate(e2e_user)
    first = wait_done(client, start_demo_analysis(client, shared_data))
    assert first["status"] == "done", first["error_message"]
    pk = first["id"]
    page.reload()  # the page now lists the AOI and the analysis, as for a user coming back to it
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.evaluate("pk => esdApp.openAnalysis(pk)", pk)
    page.wait_for_selector(f"body[data-analysis='{pk}']", state="attached")

    # the queue with its counts; the keyboard moves and confirms
    page.click("#tab-review")
    page.wait_for_selector("#review-list > li[data-sample]")
    assert "to review" in page.inner_text("#review-counts") and "0 reviewed" in page.inner_text(
        "#review-counts"
    )
    page.keyboard.press("j")
    first_li = page.locator("#review-list > li").nth(0)
    assert "active" in (first_li.get_attribute("class") or "")
    page.keyboard.press("j")
    page.keyboard.press("k")  # back to the first
    confirmed = int(first_li.get_attribute("data-sample") or 0)
    page.keyboard.press("c")
    page.wait_for_selector(f"#review-list > li.saved[data-sample='{confirmed}']")
    sample = DynamicSample.objects.get(pk=confirmed)
    assert Review.objects.get(label_id=sample.label_id, year=sample.year).action == "confirm"
    second_li = page.locator("#review-list > li").nth(1)
    assert "active" in (second_li.get_attribute("class") or "")  # the answer moved on to the next one

    # a new class, used to correct the next sample
    page.fill("#review-newclass-name", "Soybean-maize")
    page.click("#review-newclass button[type=submit]")
    page.wait_for_selector("#toast:has-text('Soybean-maize')")
    corrected = int(second_li.get_attribute("data-sample") or 0)
    second_li.locator("select").select_option("Soybean-maize")
    second_li.locator("[data-act=correct]").click()
    page.wait_for_selector(f"#review-list > li.saved[data-sample='{corrected}']")
    page.wait_for_selector("#review-counts:has-text('2 reviewed')")
    page.screenshot(path=str(tmp_path / "review_queue.png"))

    # apply: the re-run opens by itself with its maps
    page.click("#review-apply")
    started = time.monotonic()
    page.wait_for_function(
        "pk => document.body.dataset.analysis && document.body.dataset.analysis !== String(pk)",
        arg=pk,
        timeout=300_000,
    )
    seconds = time.monotonic() - started
    new = Analysis.objects.exclude(pk=pk).get()
    assert new.status == "done" and new.name.endswith("· reviewed")
    moved = DynamicSample.objects.get(
        analysis=new,
        label_id=DynamicSample.objects.get(pk=corrected).label_id,
        year=DynamicSample.objects.get(pk=corrected).year,
    )
    assert moved.dynamic_class == "Soybean-maize"
    page.click("#tab-review")
    page.wait_for_selector("#review-list > li[data-sample]")
    assert "2 reviewed" in page.inner_text("#review-counts")  # the answers carry over to the re-run
    page.screenshot(path=str(tmp_path / "review_applied.png"))
    print(f"apply reviews in the browser: {seconds:.1f} s from click to the new analysis opened")
    assert page.console_log.unexpected() == [], page.console_log.unexpected()
