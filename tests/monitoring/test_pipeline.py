"""The whole analysis job on the real Mato Grosso demo store, through a real Celery worker on Redis + PostGIS."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ml.eval.dynamic_eval import score_dynamic
from monitoring.models import Analysis, DynamicSample
from testkit.mato_grosso import loc_key, mt_points, static_labels_csv
from tests.monitoring.test_validation import check_demo_validation

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
YEARS = list(range(2007, 2014))
DEMO_PARAMETERS = {
    "tasgen": {"epochs": 60}
}  # crop years (Sep->Aug) come from the tiles' ESD_YEAR_START_MONTH tag


def wait_done(api, pk: int, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = api.get(f"/api/analyses/{pk}/").json()
        if body["status"] in {"done", "failed", "cancelled"}:
            return body
        time.sleep(0.5)
    raise AssertionError(
        f"analysis {pk} not finished after {timeout} s: {body.get('stage')} {body.get('progress')}"
    )


def start_demo_analysis(api, shared_data, **overrides) -> int:
    labels = api.post(
        "/api/labelsets/upload/",
        {
            "file": SimpleUploadedFile("mt_2011_2012.csv", static_labels_csv(shared_data)),
            "name": "MT crop year 2011-12",
        },
        format="multipart",
    )
    assert labels.status_code == 201, labels.json()
    extent = [-55.99, -12.05, -55.91, -11.99]  # the 37 x 27 px demo raster (MODIS, 231.7 m)
    w, s, e, n = extent
    aoi = api.post(
        "/api/aois/",
        {
            "name": "MT demo",
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        },
        format="json",
    )
    assert aoi.status_code == 201, aoi.json()
    body = {
        "aoi": aoi.json()["id"],
        "label_set": labels.json()["id"],
        "start_year": 2007,
        "end_year": 2013,
        "parameters": DEMO_PARAMETERS,
        **overrides,
    }
    created = api.post("/api/analyses/", body, format="json")
    assert created.status_code == 201, created.json()
    return created.json()["id"]


def assert_attribution_as_one_full_apply(pk: int) -> None:
    """The attribution filled in by its own task equals what one full TasGen apply gives."""
    import numpy as np

    from ml.esd.model import decode_codes
    from ml.review import keep_reference_year
    from ml.tasgen.dynamic import sample_attributions
    from ml.tasgen.pipeline import apply_tasgen, attribute_changes_decoded
    from monitoring.selectors.decoders import decoder_for_tiles
    from monitoring.services.pipeline.relabel import load_dynamic, load_model, tasgen_input
    from monitoring.storage.inputs import AnalysisInputs

    inputs = AnalysisInputs(Analysis.objects.get(pk=pk))
    ti = tasgen_input(inputs)
    assert ti.series is not None
    model = load_model(inputs)
    assert model is not None
    full = apply_tasgen(model, ti.series, seed=0, attribute=False)
    dyn = load_dynamic(inputs)
    kept = keep_reference_year(
        full.klass, full.changed, ti.static[ti.run], ti.ref_index[ti.run], ti.series.valid
    )
    assert np.array_equal(dyn.klass[ti.run], kept.klass)  # the labels' own years keep their labels
    assert np.array_equal(dyn.tasgen_changed[ti.run], full.changed)  # what the attribution explains
    n, y = dyn.valid.shape
    decoder = decoder_for_tiles(inputs.tiles)  # the attribution is told in its bands
    assert decoder is not None
    esd_model, bands = decoder
    month, band = attribute_changes_decoded(
        model, ti.series, full.changed, full.anomaly_score, lambda c: decode_codes(esd_model, c), seed=0
    )
    att = {
        "att_month": np.zeros((n, y, 12), np.float32),
        "att_dim": np.zeros((n, y, len(bands)), np.float32),
        "band_names": np.asarray(bands),
    }
    att["att_month"][ti.run] = month
    att["att_dim"][ti.run] = band
    expected = sample_attributions(dyn, att)
    stored = {
        (s.label_id, s.year): s.attribution
        for s in DynamicSample.objects.filter(analysis_id=pk).exclude(attribution={})
    }
    assert len(expected) > 0 and set(stored) == set(expected)
    for key, value in expected.items():
        assert stored[key]["top_months"] == value["top_months"], key
        assert stored[key]["top_bands"] == value["top_bands"], key
        for part in ("months", "bands"):
            for name, share in value[part].items():
                assert abs(stored[key][part][name] - share) <= 1e-4, (key, part, name)


def assert_consistent_maps(pk: int, stats: dict) -> None:
    """The published land cover is the temporal step's output; its table counts what the step moved."""
    import numpy as np
    import rasterio

    from monitoring.services.pipeline.temporal import consistent_maps
    from monitoring.storage.inputs import AnalysisInputs
    from monitoring.storage.paths import analysis_dir

    maps = consistent_maps(AnalysisInputs(Analysis.objects.get(pk=pk)))
    for j, year in enumerate(YEARS):
        with rasterio.open(analysis_dir(pk) / f"landcover_{year}.tif") as src:
            assert np.array_equal(src.read(1), maps["classes"][j]), year
        with rasterio.open(analysis_dir(pk) / f"uncertainty_{year}.tif") as src:
            unc = src.read(1)
        seen = maps["classes"][j] != 255
        assert np.isnan(unc[~seen]).all() and ((unc[seen] >= 0) & (unc[seen] <= 1)).all()
    moved = (maps["raw"] != maps["classes"]) & (maps["raw"] != 255)
    tm = stats["temporal"]
    assert tm["changed_total"] == int(moved.sum()) == int(np.sum(tm["changed_pixel_years"])) > 0
    assert tm["changes_after"] < tm["changes_before"]  # the maps hold still where they flickered


def test_demo_analysis_end_to_end(api, other_api, demo_store, celery_worker, shared_data) -> None:
    pk = start_demo_analysis(api, shared_data)
    body = wait_done(api, pk)
    assert body["status"] == "done", body["error_message"]
    assert body["progress"] == 100
    kinds = [(p["kind"], p["year"]) for p in body["products"]]
    assert sorted(y for k, y in kinds if k == "landcover") == YEARS
    for kind in ("change_last_year", "change_count", "change_from_to"):
        assert any(k == kind for k, _ in kinds)
    assert sum(k == "similarity" for k, _ in kinds) == len(YEARS) - 1
    assert sorted(y for k, y in kinds if k == "uncertainty") == YEARS
    stats = body["stats"]
    assert_consistent_maps(pk, stats)
    assert [row for row in stats["areas"]["years"]] == YEARS
    assert all(total > 0 for total in stats["areas"]["total_ha"])
    assert 0.0 <= stats["accuracy"]["oa"] <= 1.0 and "kappa" in stats["accuracy"]
    # the figure is agreement with the labels at their reference years, spatially grouped
    acc = stats["accuracy"]
    assert acc["method"] == "reference_grouped_cv" and acc["blocks"] >= acc["folds"] >= 2
    assert 0 < acc["labels"] == acc["n_samples"] == sum(map(sum, acc["confusion"]))
    assert set(acc["per_year_oa"]) == {"2012"}  # the labels' reference crop year
    print(
        "MT agreement with the 2011-12 labels (grouped CV):", acc["oa"], acc["kappa"], acc["blocks"], "blocks"
    )
    assert set(body["timings"]) >= {"lookup", "relabel", "classify", "change", "finalize"}

    # dynamic samples: one per label and year with data, no duplicates
    samples = DynamicSample.objects.filter(analysis_id=pk)
    n_labels = len(static_labels_csv(shared_data).splitlines()) - 1
    assert samples.values("label", "year").distinct().count() == samples.count() >= n_labels * 6
    assert_attribution_as_one_full_apply(pk)
    # downloads
    geojson = json.loads(b"".join(api.get(f"/api/analyses/{pk}/samples/?fmt=geojson").streaming_content))
    assert len(geojson["features"]) == samples.count()
    rows = list(
        csv.DictReader(
            io.StringIO(b"".join(api.get(f"/api/analyses/{pk}/samples/?fmt=csv").streaming_content).decode())
        )
    )
    assert {
        "static_class",
        "year",
        "dynamic_class",
        "changed",
        "anomaly_score",
        "confidence",
        "top_bands",
        "top_months",
    } <= set(rows[0])
    gpkg = b"".join(api.get(f"/api/analyses/{pk}/samples/?fmt=gpkg").streaming_content)
    assert gpkg[:16] == b"SQLite format 3\x00"
    cog = api.get(body["products"][0]["download"])
    assert cog.status_code == 200 and b"".join(cog.streaming_content)[:4] in (b"II*\x00", b"II+\x00")
    assert b"hectares" in b"".join(api.get(f"/api/analyses/{pk}/stats/?fmt=csv").streaming_content)
    print("MT demo analysis timings:", json.dumps(body["timings"]))
    pixel = api.get(f"/api/analyses/{pk}/pixel/?lon=-55.95&lat=-12.02").json()
    assert [y["year"] for y in pixel["years"]] == YEARS and pixel["years"][0]["class"] is not None
    assert all(0.0 <= y["uncertainty"] <= 1.0 for y in pixel["years"])  # of the consistent map's year
    assert pixel["bands"] == ["blue", "red", "nir", "mir"]  # the decoder named by the tiles' ESD_MODEL tag
    refl = pixel["years"][3]["reflectance"]
    assert len(refl) == 12 and all(len(m) == 4 and all(-0.05 < v < 1.0 for v in m) for m in refl)

    check_demo_validation(api, other_api, pk, shared_data)

    # another user sees none of it
    for url in [
        f"/api/analyses/{pk}/",
        f"/api/analyses/{pk}/samples/",
        f"/api/analyses/{pk}/stats/",
        body["products"][0]["download"],
        f"/api/analyses/{pk}/pixel/?lon=-55.95&lat=-12.02",
    ]:
        assert other_api.get(url).status_code == 404, url

    # score the dynamic labels against the real labels of the other crop years
    truth_frame = mt_points(shared_data)
    static = {r.loc: r.group for r in truth_frame[truth_frame["year"] == 2012].itertuples()}
    truth = {
        (r.loc, r.year): r.group
        for r in truth_frame[truth_frame["year"] != 2012].itertuples()
        if r.loc in static
    }
    pred = {}
    for s in samples.select_related("label"):
        pred[(loc_key(s.label.geometry.x, s.label.geometry.y), s.year)] = s.dynamic_class
    copy = {key: static[key[0]] for key in truth if key in pred}  # same location-years as ours
    ours, baseline = score_dynamic(pred, truth, static), score_dynamic(copy, truth, static)
    print(
        "MT dynamic labels vs truth:",
        json.dumps({"tasgen": ours.as_dict(), "static_copy": baseline.as_dict()}),
    )
    assert ours.n == baseline.n > 200  # location-years with data in the store and a real label
    # issue 15: the real crop changes (all to Soybean-maize, a class the 2011-12 labels lack) are found
    # without review (unknown or another class both count as a flag); measured 0.83 (P 0.98, R 0.72)
    assert ours.change_f1 >= 0.70 and ours.change_precision >= 0.6


def test_cancel_stops_and_marks_cancelled(api, demo_store, celery_worker, shared_data) -> None:
    pk = start_demo_analysis(api, shared_data, parameters={**DEMO_PARAMETERS, "tasgen": {"epochs": 400}})
    deadline = time.monotonic() + 120
    while Analysis.objects.get(pk=pk).stage in ("queued", "lookup") and time.monotonic() < deadline:
        time.sleep(0.2)
    response = api.post(f"/api/analyses/{pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    time.sleep(3)
    analysis = Analysis.objects.get(pk=pk)
    assert analysis.status == "cancelled" and analysis.progress < 100
    assert api.post(f"/api/analyses/{pk}/cancel/").status_code == 409


def test_rerun_reuses_finished_stages(api, demo_store, celery_worker, shared_data) -> None:
    first = wait_done(api, start_demo_analysis(api, shared_data))
    assert first["status"] == "done", first["error_message"]
    analysis = Analysis.objects.get(pk=first["id"])
    again = api.post(
        "/api/analyses/",
        {
            "aoi": analysis.aoi_id,
            "label_set": analysis.label_set_id,
            "start_year": 2007,
            "end_year": 2013,
            "parameters": DEMO_PARAMETERS,
        },
        format="json",
    )
    second = wait_done(api, again.json()["id"])
    assert second["status"] == "done", second["error_message"]
    assert set(second["timings"].get("reused", [])) >= {"lookup", "relabel", "classify"}
    assert second["stats"]["areas"] == first["stats"]["areas"]
    a = list(
        DynamicSample.objects.filter(analysis_id=first["id"])
        .values_list("label__row", "year", "dynamic_class")
        .order_by("label__row", "year")
    )
    b = list(
        DynamicSample.objects.filter(analysis_id=second["id"])
        .values_list("label__row", "year", "dynamic_class")
        .order_by("label__row", "year")
    )
    assert a == b


def test_bad_analysis_requests(api, other_api, demo_store, shared_data) -> None:
    labels = api.post(
        "/api/labelsets/upload/",
        {"file": SimpleUploadedFile("l.csv", static_labels_csv(shared_data))},
        format="multipart",
    ).json()
    geometry = {
        "type": "Polygon",
        "coordinates": [
            [[-55.99, -12.05], [-55.91, -12.05], [-55.91, -11.99], [-55.99, -11.99], [-55.99, -12.05]]
        ],
    }
    aoi = api.post("/api/aois/", {"name": "a", "geometry": geometry}, format="json").json()
    no_years = api.post(
        "/api/analyses/",
        {"aoi": aoi["id"], "label_set": labels["id"], "start_year": 1990, "end_year": 1995},
        format="json",
    )
    assert no_years.status_code == 400 and "no tiles" in no_years.json()["detail"]
    reversed_years = api.post(
        "/api/analyses/",
        {"aoi": aoi["id"], "label_set": labels["id"], "start_year": 2013, "end_year": 2007},
        format="json",
    )
    assert reversed_years.status_code == 400
    foreign = other_api.post(
        "/api/analyses/",
        {"aoi": aoi["id"], "label_set": labels["id"], "start_year": 2007, "end_year": 2013},
        format="json",
    )
    assert foreign.status_code == 404
    assert Analysis.objects.count() == 0
