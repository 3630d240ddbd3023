"""An analysis whose messages were lost (never enqueued here) finishes once ``analysis_resume`` runs."""

from __future__ import annotations

import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from monitoring.models import AOI, Analysis, LabelSet
from testkit.mato_grosso import static_labels_csv

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_resume_lost_analysis(api, owner, demo_store, celery_worker, shared_data) -> None:
    api.post(
        "/api/labelsets/upload/",
        {"file": SimpleUploadedFile("l.csv", static_labels_csv(shared_data))},
        format="multipart",
    )
    w, s, e, n = -55.99, -12.05, -55.91, -11.99
    api.post(
        "/api/aois/",
        {
            "name": "a",
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        },
        format="json",
    )
    # created without its start task: as if the broker had lost the message
    analysis = Analysis.objects.create(
        owner=owner,
        aoi=AOI.objects.get(),
        label_set=LabelSet.objects.get(),
        start_year=2007,
        end_year=2013,
        parameters={"tasgen": {"epochs": 30}},
    )
    time.sleep(2)
    assert Analysis.objects.get(pk=analysis.pk).status == "queued"
    out = io.StringIO()
    call_command("analysis_resume", "--all", stdout=out)
    assert f"analysis {analysis.pk}" in out.getvalue() and "analysis.start" in out.getvalue()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and Analysis.objects.get(pk=analysis.pk).status not in (
        "done",
        "failed",
    ):
        time.sleep(0.5)
    finished = Analysis.objects.get(pk=analysis.pk)
    assert finished.status == "done", finished.error_message
    assert finished.products.filter(kind="landcover").count() == 7
