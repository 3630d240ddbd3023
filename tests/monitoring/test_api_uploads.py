"""AOI and label uploads through the API: every format, reports, bad files, owner isolation."""

from __future__ import annotations

import pytest
from shapely.geometry import shape

from monitoring.models import AOI, Label, LabelSet
from tests.monitoring.conftest import UPLOADS, upload

pytestmark = pytest.mark.django_db

LABEL_FILES = [
    ("labels_mt.csv", {}),
    ("labels_mt.geojson", {}),
    ("labels_mt.kml", {}),
    ("labels_mt_utm21s.gpkg", {}),
    ("labels_mt_utm21s_shapefile.zip", {}),
    ("labels_mt_utm21s_wkt.csv", {"crs": "EPSG:32721"}),
]


@pytest.mark.parametrize(("name", "options"), LABEL_FILES)
def test_label_upload_every_format(api, demo_store, name, options) -> None:
    response = upload(api, "/api/labelsets/upload/", UPLOADS / name, name=name, **options)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["label_count"] == body["report"]["accepted"] > 0
    assert {c["name"] for c in body["classes"]} == set(body["report"]["classes"])
    assert all(c["color"].startswith("#") for c in body["classes"])
    labels = api.get(f"/api/labelsets/{body['id']}/labels/").json()
    assert labels["type"] == "FeatureCollection" and len(labels["features"]) == body["label_count"]
    point = shape(labels["features"][0]["geometry"]).representative_point()
    lon, lat = point.x, point.y
    assert -56.5 < lon < -55.0 and -13 < lat < -11.5  # reprojected to lon/lat in Mato Grosso


def test_custom_columns_and_rejected_rows_are_reported(api, demo_store) -> None:
    content = b"lon,lat,cover,when\n-55.98819,-12.03646,Forest,2011\n-55.98,-12.03,,2011\n-55.97,-12.02,Forest,notadate\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api.post(
        "/api/labelsets/upload/",
        {"file": SimpleUploadedFile("l.csv", content), "class_column": "cover", "date_column": "when"},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    report = response.json()["report"]
    assert report["accepted"] == 1
    assert [r["row"] for r in report["rejected"]] == [2, 3]


def test_allowed_classes_reject_other_rows_and_set_spelling(api, demo_store) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = (UPLOADS / "labels_mt.csv").read_bytes()
    response = api.post(
        "/api/labelsets/upload/",
        {
            "file": SimpleUploadedFile("mt.csv", content),
            "allowed_classes": " forest, SOYBEAN-maize ,Cotton-fallow",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["report"]["accepted"] == 14 + 13 + 7
    assert len(body["report"]["rejected"]) == 8 + 19  # Soybean-cotton and Soybean-millet rows
    assert (
        "Soybean-millet" in body["report"]["rejected"][0]["reason"]
        or "Soybean-cotton" in body["report"]["rejected"][0]["reason"]
    )
    assert sorted(c["name"] for c in body["classes"]) == [
        "Cotton-fallow",
        "SOYBEAN-maize",
        "forest",
    ]  # as the user spelled them


def test_bad_label_file_stores_nothing_and_keeps_existing(api, demo_store) -> None:
    good = upload(api, "/api/labelsets/upload/", UPLOADS / "labels_mt.csv")
    assert good.status_code == 201
    before = (LabelSet.objects.count(), Label.objects.count())
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = api.post(
        "/api/labelsets/upload/", {"file": SimpleUploadedFile("l.geojson", b"{not json")}, format="multipart"
    )
    assert bad.status_code == 400
    assert "detail" in bad.json() and bad.json()["detail"]
    assert (LabelSet.objects.count(), Label.objects.count()) == before


def test_aoi_draw_upload_and_isolation(api, other_api, demo_store) -> None:
    geometry = {
        "type": "Polygon",
        "coordinates": [
            [[-55.99, -12.05], [-55.93, -12.05], [-55.93, -12.0], [-55.99, -12.0], [-55.99, -12.05]]
        ],
    }
    drawn = api.post("/api/aois/", {"name": "field block", "geometry": geometry}, format="json")
    assert drawn.status_code == 201, drawn.json()
    assert drawn.json()["properties"]["area_km2"] > 30
    uploaded = upload(api, "/api/aois/upload/", UPLOADS / "aoi_mt_utm21s.gpkg")
    assert uploaded.status_code == 201, uploaded.json()
    assert len(api.get("/api/aois/").json()["features"]) == 2
    pk = drawn.json()["id"]
    assert other_api.get(f"/api/aois/{pk}/").status_code == 404
    assert other_api.delete(f"/api/aois/{pk}/").status_code == 404
    assert other_api.get("/api/aois/").json()["features"] == []
    assert (
        api.patch(f"/api/aois/{pk}/", {"name": "renamed"}, format="json").json()["properties"]["name"]
        == "renamed"
    )
    assert api.delete(f"/api/aois/{pk}/").status_code == 204
    assert AOI.objects.count() == 1


def test_aoi_outside_coverage_is_refused(api, demo_store) -> None:
    geometry = {
        "type": "Polygon",
        "coordinates": [[[10, 45], [10.1, 45], [10.1, 45.1], [10, 45.1], [10, 45]]],
    }
    response = api.post("/api/aois/", {"name": "alps", "geometry": geometry}, format="json")
    assert response.status_code == 400
    assert "coverage" in response.json()["detail"]
    assert AOI.objects.count() == 0


def test_templates_download_without_login(client) -> None:
    names = client.get("/api/templates/").json()
    assert "labels_template.csv" in names and "labels_template_shapefile.zip" in names
    response = client.get("/api/templates/labels_template.csv")
    assert response.status_code == 200 and b"lon" in b"".join(response.streaming_content).lower()
    assert client.get("/api/templates/..%2Fsettings.py").status_code == 404


def test_api_requires_authentication(client) -> None:
    for url in ["/api/aois/", "/api/labelsets/", "/api/analyses/"]:
        assert client.get(url).status_code in (401, 403)


def test_schema_and_docs(api) -> None:
    schema = api.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/analyses/" in schema.content
    docs = api.get("/api/docs/")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()
