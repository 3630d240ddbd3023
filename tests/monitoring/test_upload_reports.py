"""What the upload answers tell the user: geometry repairs with areas, and where the data is instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

BOWTIE = {  # a self-intersecting AOI over the demo store (lon -55.99..-55.91, lat -12.05..-11.99)
    "type": "Polygon",
    "coordinates": [[[-55.98, -12.04], [-55.92, -12.0], [-55.92, -12.04], [-55.98, -12.0], [-55.98, -12.04]]],
}
MUNICH = {
    "type": "Polygon",
    "coordinates": [[[11.4, 48.0], [11.6, 48.0], [11.6, 48.2], [11.4, 48.2], [11.4, 48.0]]],
}


def test_repaired_aoi_reports_what_and_the_areas(api: APIClient, demo_store: Path) -> None:
    response = api.post("/api/aois/", {"name": "bow tie", "geometry": BOWTIE}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    (repair,) = [
        w for w in body["warnings"] if w.startswith("invalid AOI polygon repaired (Self-intersection")
    ]
    assert "split into 2 polygons; area as drawn 0 km², after repair " in repair
    after = float(repair.rsplit("after repair ", 1)[1].split(" km²")[0])
    assert after == pytest.approx(body["properties"]["area_km2"], rel=0.01)


def test_aoi_outside_coverage_names_the_covered_patches(api: APIClient, demo_store: Path) -> None:
    response = api.post("/api/aois/", {"name": "Munich", "geometry": MUNICH}, format="json")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "does not overlap the ESD store's coverage" in detail
    assert "Covered areas nearest to it: MT-DTWSAT (2007-2013; lon -55.9" in detail and "km away)" in detail
