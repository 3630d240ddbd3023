"""Validation label sets: marked through the API, refused for training, and assessing a finished map.

:func:`check_demo_validation` runs inside the demo end-to-end test of ``test_pipeline.py`` (one real
analysis of the Mato Grosso store serves both): the real labels of the 2010-11 crop year, held back,
assess the 2011 land-cover map with Olofsson et al. (2014) estimates.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from monitoring.models import LabelSet
from testkit.mato_grosso import static_labels_csv


def upload_labels(api, shared_data, crop_year_end: int, name: str) -> int:
    response = api.post(
        "/api/labelsets/upload/",
        {
            "file": SimpleUploadedFile(
                f"mt_{crop_year_end}.csv", static_labels_csv(shared_data, crop_year_end)
            ),
            "name": name,
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.django_db
def test_a_validation_set_is_marked_by_patch_and_never_trains(
    api, other_api, demo_store, shared_data
) -> None:
    pk = upload_labels(api, shared_data, 2011, "held back")
    assert api.get(f"/api/labelsets/{pk}/").json()["is_validation"] is False
    assert other_api.patch(f"/api/labelsets/{pk}/", {"is_validation": True}, format="json").status_code == 404
    marked = api.patch(f"/api/labelsets/{pk}/", {"is_validation": True}, format="json")
    assert marked.status_code == 200 and marked.json()["is_validation"] is True
    assert LabelSet.objects.get(pk=pk).is_validation
    aoi = api.post(
        "/api/aois/",
        {
            "name": "MT",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[-55.99, -12.05], [-55.91, -12.05], [-55.91, -11.99], [-55.99, -11.99], [-55.99, -12.05]]
                ],
            },
        },
        format="json",
    ).json()["id"]
    refused = api.post(
        "/api/analyses/", {"aoi": aoi, "label_set": pk, "start_year": 2007, "end_year": 2013}, format="json"
    )
    assert refused.status_code == 400 and "validation set" in refused.json()["detail"]
    assert api.patch(f"/api/labelsets/{pk}/", {"is_validation": "maybe"}, format="json").status_code == 400


def check_demo_validation(api, other_api, pk: int, shared_data) -> dict:
    """Assess the finished demo analysis ``pk`` with the real 2010-11 labels; returns the assessment."""
    held = upload_labels(api, shared_data, 2011, "MT crop year 2010-11 (held back)")
    analysis = api.get(f"/api/analyses/{pk}/").json()
    # the training set cannot validate its own map; another user's analysis is not found
    own = api.post(f"/api/analyses/{pk}/validation/", {"label_set": analysis["label_set"]}, format="json")
    assert own.status_code == 400 and "trained on this label set" in own.json()["detail"]
    assert (
        other_api.post(f"/api/analyses/{pk}/validation/", {"label_set": held}, format="json").status_code
        == 404
    )
    assert api.get(f"/api/analyses/{pk}/validation/").json() == {}

    response = api.post(f"/api/analyses/{pk}/validation/", {"label_set": held}, format="json")
    assert response.status_code == 200, response.json()
    v = response.json()
    assert (
        v["method"] == "olofsson2014"
        and v["label_set"] == held
        and LabelSet.objects.get(pk=held).is_validation
    )
    # Soybean-maize is not a class of the 2011-12 training labels: those labels cannot be scored
    assert v["skipped"]["class_not_in_map"] == 134
    (a,) = v["assessments"]
    assert (
        a["year"] == 2011
        and a["classes"] == [c["name"] for c in analysis["classes"]]
        and len(a["classes"]) >= 4
    )
    assert (
        a["n_samples"] == sum(map(sum, a["error_matrix"])) == 232 - 134 - v["skipped"].get("outside_map", 0)
    )
    mapped = {c["class"]: c["mapped_area"] for c in a["per_class"]}
    year_areas = analysis["stats"]["areas"]["area_ha"][analysis["years"].index(2011)]
    assert mapped == pytest.approx(year_areas, abs=0.01)
    # the adjusted areas redistribute the mapped area of the map classes with >= 2 validation labels
    # (the others are named in a warning, and ``coverage`` says how much of the map is described)
    used = [c for c in a["per_class"] if c["n_map"] >= 2]
    assert sum(c["area"]["value"] for c in a["per_class"]) == pytest.approx(
        sum(c["mapped_area"] for c in used)
    )
    assert a["coverage"] == pytest.approx(
        sum(c["mapped_area"] for c in used) / sum(mapped.values()), abs=1e-4
    )
    assert any(c["left_out"] for c in a["per_class"]) == any("left out" in w for w in a["warnings"])
    assert 0 < a["overall"]["value"] <= 1 and a["overall"]["ci95"] is not None
    assert all(c["left_out"] == (c["n_map"] < 2 and c["mapped_area"] > 0) for c in a["per_class"])
    for c in used:  # every estimate of a described class has its interval
        assert c["users"]["ci95"] is not None and c["area"]["ci95"] is not None and c["area"]["ci95"] >= 0
    print("MT validation with the 2010-11 labels:", json.dumps(a))

    # the statistics CSV says which figure is which
    body = b"".join(api.get(f"/api/analyses/{pk}/stats/?fmt=csv").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    tables = {r["table"] for r in rows}
    assert {
        "area",
        "agreement_with_labels_grouped_cv",
        "validation_area_adjusted",
        "validation_error_matrix",
    } <= tables
    overall = next(r for r in rows if r["measure"] == "overall_accuracy")
    assert overall["year"] == "2011" and float(overall["ci95_half_width"]) >= 0
    areas = [r for r in rows if r["measure"] == "area_adjusted_ha"]
    assert len(areas) == sum(not c["left_out"] for c in a["per_class"]) and all(
        r["ci95_half_width"] != "" for r in areas if r["from_class"] == "Forest"
    )
    assert next(r for r in rows if r["measure"] == "overall_agreement")["estimate"] != ""
    assert api.get(f"/api/analyses/{pk}/validation/").json()["label_set"] == held
    assert api.delete(f"/api/analyses/{pk}/validation/").status_code == 204
    assert api.get(f"/api/analyses/{pk}/validation/").json() == {}
    assert b"validation_area_adjusted" not in b"".join(
        api.get(f"/api/analyses/{pk}/stats/?fmt=csv").streaming_content
    )
    return v
