"""The store's coverage as the map page's first screen shows it (issue 16): named patches with their
years, the AOI's covered years (the Run form's defaults), and a run refused when its years have no tile
over its area."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from monitoring.selectors.coverage import year_span
from testkit.mato_grosso import static_labels_csv

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

MT = [[-55.99, -12.05], [-55.91, -12.05], [-55.91, -11.99], [-55.99, -11.99], [-55.99, -12.05]]


def test_year_span() -> None:
    assert year_span([2013, 2007, 2008, 2009, 2010, 2011, 2012]) == "2007-2013"
    assert year_span([2000, 2002, 2003, 2003]) == "2000, 2002-2003"
    assert year_span([]) == ""


def test_patches_aoi_years_and_refusal(api, demo_store, shared_data) -> None:
    cov = api.get("/api/esd/coverage/").json()
    (patch,) = cov["patches"]
    assert patch["tile_id"] == "MT-DTWSAT" and patch["label"] == "Mato Grosso, MODIS, 2007-2013"
    assert patch["years"] == list(range(2007, 2014)) and patch["geometry"]["type"] == "Polygon"
    w, s, e, n = patch["bounds"]
    assert w < -55.95 < e and s < -12.02 < n

    aoi = api.post(
        "/api/aois/", {"name": "MT", "geometry": {"type": "Polygon", "coordinates": [MT]}}, format="json"
    )
    assert aoi.status_code == 201, aoi.json()
    assert aoi.json()["properties"]["coverage_years"] == list(range(2007, 2014))
    listed = api.get("/api/aois/").json()["features"][0]["properties"]
    assert listed["coverage_years"] == list(range(2007, 2014))

    labels = api.post(
        "/api/labelsets/upload/",
        {"file": SimpleUploadedFile("l.csv", static_labels_csv(shared_data))},
        format="multipart",
    ).json()
    refused = api.post(
        "/api/analyses/",
        {"aoi": aoi.json()["id"], "label_set": labels["id"], "start_year": 1995, "end_year": 2000},
        format="json",
    )
    assert refused.status_code == 400
    assert "over the area 'MT'" in refused.json()["detail"] and "2007-2013" in refused.json()["detail"]
