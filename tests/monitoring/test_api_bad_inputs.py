"""Every file of the bad-input corpus, uploaded through the API: 4xx with its message, nothing stored.

The corpus and its expected messages are ``tests/data/bad_inputs/manifest.json`` (the parser-level
test is ``test_bad_inputs.py``). Here each file goes through the real upload endpoints with the
settings a case needs (upload limits via ``override_settings``; the real Mato Grosso demo store indexed
for the coverage cases: it covers lon -55.99..-55.91, lat -12.05..-11.99, inside the manifest's wider
``coverage_bbox``, and the files of those cases lie in Europe, outside both).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from monitoring.models import AOI, Label, LabelSet
from tests.monitoring.conftest import UPLOADS, upload

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))["cases"]
URL = {"labels": "/api/labelsets/upload/", "aoi": "/api/aois/upload/"}
# Upload limits of a case (UploadLimits field) -> the setting that feeds it (services/uploads.py).
LIMIT_SETTINGS = {
    "max_bytes": "ESD_UPLOAD_MAX_BYTES",
    "max_features": "ESD_UPLOAD_MAX_FEATURES",
    "max_aoi_km2": "ESD_AOI_MAX_KM2",
}


def _form_value(value: Any) -> str:
    """A manifest option as the upload form sends it (lists comma-separated)."""
    return ",".join(value) if isinstance(value, list) else str(value)


def _snapshot(label_set_pk: int) -> dict[str, Any]:
    """Row counts of what uploads write, and every stored field of one existing label set."""
    return {
        "aois": AOI.objects.count(),
        "label_sets": LabelSet.objects.count(),
        "labels": Label.objects.count(),
        "existing_set": list(LabelSet.objects.filter(pk=label_set_pk).values()),
        "existing_labels": [
            (row, geom.wkt, klass, date)
            for row, geom, klass, date in Label.objects.filter(label_set_id=label_set_pk)
            .order_by("row")
            .values_list("row", "geometry", "klass", "reference_date")
        ],
        "aoi_geoms": [(pk, g.wkt) for pk, g in AOI.objects.order_by("pk").values_list("pk", "geometry")],
    }


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_upload_answers_4xx_with_its_message_and_stores_nothing(api, request, case) -> None:
    existing_set = upload(api, URL["labels"], UPLOADS / "labels_mt.csv")
    existing_aoi = upload(api, URL["aoi"], UPLOADS / "aoi_mt.geojson")
    assert existing_set.status_code == 201 and existing_aoi.status_code == 201, existing_set.json()
    if case["coverage_bbox"]:
        request.getfixturevalue("demo_store")
    before = _snapshot(existing_set.json()["id"])

    limits = {LIMIT_SETTINGS[k]: v for k, v in case["limits"].items()}
    with override_settings(**limits):
        response = api.post(
            URL[case["kind"]],
            {
                "file": SimpleUploadedFile(case["file"], (CORPUS / case["file"]).read_bytes()),
                **{k: _form_value(v) for k, v in case["options"].items()},
            },
            format="multipart",
        )

    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert "detail" in response.json(), response.json()
    detail = response.json()["detail"]
    assert case["expected"] in detail, detail
    assert "Traceback" not in detail and "/tmp/" not in detail
    assert _snapshot(existing_set.json()["id"]) == before


def test_corpus_size_for_the_record() -> None:
    """At least 40 bad files, each of both kinds posted through the API."""
    assert len(CASES) >= 40 and {c["kind"] for c in CASES} == {"labels", "aoi"}
