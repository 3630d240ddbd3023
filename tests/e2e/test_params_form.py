"""The advanced section shows the analysis parameters as a form built from the API schema."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_parameters_form_writes_the_json_the_run_sends(page) -> None:
    page.click("#tab-run")
    page.click("text=Advanced parameters (JSON)")
    page.wait_for_selector("#param-tasgen-epochs", state="attached")
    page.click("#run-params-form summary:text-is('tasgen')")
    epochs = page.locator("#param-tasgen-epochs")
    assert epochs.get_attribute("min") == "1" and epochs.get_attribute("placeholder") == "300"
    epochs.fill("60")
    epochs.dispatch_event("change")
    page.select_option("#param-tasgen-relabel_model", "forest")
    assert json.loads(page.input_value("#run-params")) == {
        "tasgen": {"epochs": 60, "relabel_model": "forest"}
    }
    epochs.fill("")
    epochs.dispatch_event("change")
    assert json.loads(page.input_value("#run-params")) == {"tasgen": {"relabel_model": "forest"}}
    assert not page.console_log.unexpected()
