"""Fixtures of the web-app tests: users, API clients, and the real Mato Grosso demo store indexed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

REPO = Path(__file__).resolve().parents[2]
UPLOADS = REPO / "tests" / "data" / "uploads"


@pytest.fixture(scope="session")
def demo_store_dir(tmp_path_factory, shared_data) -> Path:
    """The real Mato Grosso MODIS stack encoded by the shipped ESDNet into ESD tiles (built once)."""
    from ml.esd.encode import encode_demo

    out = Path(os.environ.get("ESD_TEST_STORE_CACHE", tmp_path_factory.mktemp("store")))
    folder = out / "mt-dtwsat"
    if not any(folder.glob("SDC30_EBD_V001_*.tif")):
        encode_demo(out, names=["mt-dtwsat"], shared=shared_data)
    return folder


@pytest.fixture
def demo_store(demo_store_dir, django_db_blocker):
    """The demo store indexed into the test database's catalog."""
    from monitoring.services.esd_catalog import esd_index

    report = esd_index(location=str(demo_store_dir))
    assert not report.rejected, report.rejected
    return demo_store_dir


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("owner", password="owner-pass-2026")


@pytest.fixture
def other(django_user_model):
    return django_user_model.objects.create_user("other", password="other-pass-2026")


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.fixture
def other_api(other) -> APIClient:
    client = APIClient()
    client.force_authenticate(other)
    return client


def upload(client: APIClient, url: str, path: Path, **fields: str):
    with path.open("rb") as fh:
        return client.post(url, {"file": fh, **fields}, format="multipart")


@pytest.fixture
def analysis_row(api):
    """A queued analysis row of ``owner`` over uploaded AOI and labels (no task sent, nothing computed)."""
    from monitoring.models import AOI, Analysis, LabelSet

    assert upload(api, "/api/labelsets/upload/", UPLOADS / "labels_mt.csv").status_code == 201
    assert upload(api, "/api/aois/upload/", UPLOADS / "aoi_mt.geojson").status_code == 201
    aoi, label_set = AOI.objects.latest("pk"), LabelSet.objects.latest("pk")
    return Analysis.objects.create(
        owner=aoi.owner, aoi=aoi, label_set=label_set, start_year=2007, end_year=2013, name="row"
    )
