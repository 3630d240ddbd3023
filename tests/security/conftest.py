"""Fixtures of the security tests: the owner's real finished analysis (through a real worker)."""

from __future__ import annotations

import pytest

from monitoring.models import Label, MapProduct
from tests.monitoring.conftest import api, demo_store, other, other_api, owner  # noqa: F401
from tests.monitoring.test_pipeline import start_demo_analysis, wait_done
from tests.security.store import demo_store_dir  # noqa: F401
from tests.security.world import DEMO_LAT, DEMO_LON, DEMO_YEAR, SECRET_NAME, World


@pytest.fixture
def world(api, demo_store, celery_worker, shared_data) -> World:  # noqa: F811
    """``owner``'s AOI, label set and a finished real analysis of the Mato Grosso demo, with a similar-pixel answer."""
    pk = start_demo_analysis(api, shared_data, name=SECRET_NAME)
    body = wait_done(api, pk)
    assert body["status"] == "done", body["error_message"]
    similar = api.post(
        f"/api/analyses/{pk}/similar/", {"lon": DEMO_LON, "lat": DEMO_LAT, "year": DEMO_YEAR}, format="json"
    )
    assert similar.status_code == 200, similar.json()
    token = similar.json()["tiles"].split("/similar/", 1)[1].split("/", 1)[0]
    product = MapProduct.objects.filter(analysis_id=pk, kind="landcover").order_by("year").first()
    label = Label.objects.filter(label_set_id=body["label_set"]).order_by("row").first()
    owned = {body["aoi"], body["label_set"], pk}
    owned |= set(MapProduct.objects.filter(analysis_id=pk).values_list("pk", flat=True))
    owned |= set(Label.objects.filter(label_set_id=body["label_set"]).values_list("pk", flat=True))
    assert label is not None and product is not None
    return World(
        aoi=body["aoi"],
        label_set=body["label_set"],
        label=label.pk,
        analysis=pk,
        product=product.pk,
        similar_token=token,
        owned_ids=owned,
    )
