"""The fast read paths under load: the tile cache, the plain-SQL tile lookup, the samples page.

Each is checked against the slow path it replaced, on a real Mato Grosso demo analysis.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.cache import caches
from django.test import override_settings

from ml.review import UNKNOWN_COLOR
from monitoring.apis.analyses import DynamicSampleOutputSerializer
from monitoring.models import Analysis, DynamicSample, LabelSet, MapProduct
from monitoring.selectors.objects import product_for_tile, sample_list
from monitoring.selectors.samples import sample_dicts
from monitoring.tiles import product_path
from tests.monitoring.test_tiles import png_rgba, run_demo_analysis, tile_over

pytestmark = pytest.mark.django_db


def test_tile_cache_serves_repeats_and_never_stale(api, other_api, demo_store, shared_data, monkeypatch, tmp_path) -> None:  # fmt: skip
    from monitoring import tiles

    pk = run_demo_analysis(api, shared_data, monkeypatch)
    products = {(p["kind"], p["year"]): p for p in api.get(f"/api/analyses/{pk}/").json()["products"]}
    z, x, y = tile_over(-55.95, -12.02, 12)
    url = products[("landcover", 2012)]["tiles"].format(z=z, x=x, y=y)
    caches["tiles"].clear()

    draws = []
    real_draw = tiles.render_product_tile

    def counting_draw(*a: Any) -> bytes:
        draws.append(a)
        return real_draw(*a)

    monkeypatch.setattr("monitoring.apis.tiles.render_product_tile", counting_draw)
    first = api.get(url)
    again = api.get(url)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content and first["ETag"] == again["ETag"]
    assert len(draws) == 1  # the repeat came from the cache
    assert other_api.get(url).status_code == 404  # the cache never skips the owner check

    # a tile with no data is remembered too, and still answers 404 with its message
    far = tile_over(10.0, 45.0, 14)
    far_url = products[("landcover", 2012)]["tiles"].format(z=far[0], x=far[1], y=far[2])
    assert api.get(far_url).status_code == api.get(far_url).status_code == 404
    assert "outside" in api.get(far_url).json()["detail"]
    assert len(draws) == 2

    # the product is rewritten (a re-run): new ETag, new render, never the old bytes
    product = MapProduct.objects.get(pk=products[("landcover", 2012)]["id"])
    cog = product_path(product)
    other = product_path(MapProduct.objects.get(pk=products[("landcover", 2008)]["id"]))
    cog.write_bytes(other.read_bytes())
    os.utime(cog, ns=(time.time_ns(), time.time_ns()))
    rewritten = api.get(url)
    assert rewritten.status_code == 200 and rewritten["ETag"] != first["ETag"] and len(draws) == 3
    assert rewritten.content == api.get(products[("landcover", 2008)]["tiles"].format(z=z, x=x, y=y)).content

    # new class colours: new ETag and tile
    label_set = Analysis.objects.get(pk=pk).label_set
    LabelSet.objects.filter(pk=label_set.pk).update(
        classes=[{**c, "color": "#000000"} for c in label_set.classes]
    )
    recoloured = api.get(url)
    assert recoloured["ETag"] != rewritten["ETag"]
    rgba = png_rgba(recoloured.content)
    opaque = {tuple(int(v) for v in c) for c in rgba[rgba[..., 3] == 255][:, :3]}
    # the set's classes are all black now; the open-set ``unknown`` class keeps its own colour (the
    # set does not name it), so its pixels (changes to classes the labels lack) stay magenta
    unknown_rgb = tuple(int(UNKNOWN_COLOR[i : i + 2], 16) for i in (1, 3, 5))
    assert (0, 0, 0) in opaque and opaque <= {(0, 0, 0), unknown_rgb}

    # a broken cache (a file where its folder should be) costs the render, never the tile
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    broken = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(blocker)}
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    with override_settings(CACHES={"default": local, "tiles": broken}):  # Django resets the handler
        fresh = api.get(url)
    assert fresh.status_code == 200 and fresh.content == recoloured.content


def test_product_for_tile_is_owner_filtered_and_complete(api, owner, other, demo_store, shared_data, monkeypatch) -> None:  # fmt: skip
    pk = run_demo_analysis(api, shared_data, monkeypatch)
    for product in MapProduct.objects.filter(analysis_id=pk).select_related("analysis__label_set"):
        fast = product_for_tile(user=owner, analysis_pk=pk, pk=product.pk)
        assert fast is not None
        assert (fast.pk, fast.path, fast.colormap) == (product.pk, product.path, product.colormap)
        assert fast.analysis.years == product.analysis.years
        assert fast.analysis.label_set.classes == product.analysis.label_set.classes
        assert Path(product_path(fast)) == Path(product_path(product))
        assert product_for_tile(user=other, analysis_pk=pk, pk=product.pk) is None
        assert product_for_tile(user=owner, analysis_pk=pk + 1, pk=product.pk) is None


def test_sample_rows_match_the_serializer(api, demo_store, shared_data, monkeypatch) -> None:
    pk = run_demo_analysis(api, shared_data, monkeypatch)
    analysis = Analysis.objects.get(pk=pk)
    DynamicSample.objects.filter(analysis=analysis, year=2010).update(
        changed=True, dynamic_class="Pasture", attribution={"months": {"Jan": 1.0}, "bands": {"c0": 1.0}}
    )
    qs = sample_list(analysis=analysis)
    assert qs.count() > 1000
    assert sample_dicts(qs) == DynamicSampleOutputSerializer(qs, many=True).data
    review = qs.filter(changed=True).order_by("-anomaly_score", "label_id", "year")[:500]
    assert sample_dicts(review) == DynamicSampleOutputSerializer(review, many=True).data
    page = api.get(f"/api/analyses/{pk}/samples/?limit=100&offset=50").json()
    assert page["count"] == qs.count() and len(page["results"]) == 100
    assert page["results"] == DynamicSampleOutputSerializer(qs[50:150], many=True).data


def test_token_authentication_answers_like_drf(owner, other) -> None:
    """DRF answers 403 (not 401) to a bad token here: the session check comes first in the settings."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from monitoring.models import AOI

    AOI.objects.create(
        owner=owner, name="mine", geometry=MultiPolygon(Polygon(((0, 0), (1, 0), (1, 1), (0, 0))))
    )
    key = Token.objects.create(user=owner).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    answer = client.get("/api/aois/")
    assert answer.status_code == 200 and [a["properties"]["name"] for a in answer.json()["features"]] == [
        "mine"
    ]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key[:-1]}x")
    wrong = client.get("/api/aois/")
    assert wrong.status_code == 403 and wrong.json() == {"detail": "Invalid token."}
    owner.is_active = False
    owner.save()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    inactive = client.get("/api/aois/")
    assert inactive.status_code == 403 and inactive.json() == {"detail": "User inactive or deleted."}
    Token.objects.filter(user=owner).delete()
    assert client.get("/api/aois/").status_code == 403  # a revoked token stops at once
