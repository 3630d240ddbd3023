"""The review loop through the API on the real demo analysis with a real worker: queue, answers, new
class, "Apply reviews" -> new maps; the label's own year; bad review input."""

from __future__ import annotations

import csv
import io

import pytest

from ml.review import REASON_UNKNOWN, REASONS, UNKNOWN_COLOR
from ml.tasgen import UNKNOWN
from monitoring.models import Analysis, DynamicSample, Label, Review
from monitoring.selectors.reviews import queue_order
from monitoring.storage.inputs import AnalysisInputs
from testkit.mato_grosso import static_labels_csv
from tests.monitoring.test_pipeline import start_demo_analysis, wait_done

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def queue(api, pk: int, **params) -> dict:
    response = api.get(f"/api/analyses/{pk}/review/", {"limit": 1000, **params})
    assert response.status_code == 200, response.json()
    return response.json()


def test_review_apply_loop(api, other_api, demo_store, celery_worker, shared_data) -> None:
    first = wait_done(api, start_demo_analysis(api, shared_data))
    assert first["status"] == "done", first["error_message"]
    pk = first["id"]
    analysis = Analysis.objects.get(pk=pk)

    # the label's own (store) year keeps the label; a disagreement there is queued, not applied
    inputs = AnalysisInputs(analysis)
    for s in DynamicSample.objects.filter(analysis_id=pk).select_related("label"):
        if s.year == inputs.reference_year(s.label):
            assert s.dynamic_class == s.static_class and not s.changed, (s.label.row, s.year)
        else:
            assert s.suggested_class == ""

    # the queue: counts, every reason known, unknown first, then the value order with diversity
    body = queue(api, pk)
    counts, items = body["counts"], body["results"]
    assert counts["total"] == len(items) == body["count"] > 0
    assert counts["reviewed"] == 0 and counts["unreviewed"] == counts["total"]
    assert sum(counts[r] for r in REASONS) == counts["total"]
    assert all(i["review_reason"] in REASONS and 0 <= i["review_value"] <= 6 for i in items)
    unknown = [i["review_reason"] == REASON_UNKNOWN for i in items]
    assert unknown == sorted(unknown, reverse=True)
    assert counts[REASON_UNKNOWN] > 0  # changes to a class the labels lack (Soybean-maize) are named unknown
    print("MT demo review queue counts:", counts)
    rows = list(
        DynamicSample.objects.filter(analysis_id=pk)
        .exclude(review_reason="")
        .order_by("label__row", "label_id", "year")
    )
    expected = queue_order(rows)
    assert [i["id"] for i in items] == [rows[j].pk for j in expected]
    known = [i for i in items if i["review_reason"] != REASON_UNKNOWN]
    assert known[0]["review_value"] == max(i["review_value"] for i in known)  # the best review first
    assert other_api.get(f"/api/analyses/{pk}/review/").status_code == 404

    # what drove a change is told in the decoder's spectral bands and in months
    explained = [i["attribution"] for i in items if i["attribution"]]
    assert explained and all(set(a["top_bands"]) <= {"blue", "red", "nir", "mir"} for a in explained)
    assert all(
        set(a["months"])
        == {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
        for a in explained
    )

    # nothing to apply yet
    assert api.post(f"/api/analyses/{pk}/apply-reviews/").status_code == 400

    # a reviewer names a new class, corrects one sample with it and confirms another
    new = api.post(
        f"/api/labelsets/{analysis.label_set_id}/classes/", {"name": "Soybean-maize"}, format="json"
    )
    assert new.status_code == 201, new.json()
    names = [c["name"] for c in new.json()["classes"]]
    assert "Soybean-maize" in names and names[-1] == UNKNOWN
    assert new.json()["classes"][-1]["color"] == UNKNOWN_COLOR
    corrected, confirmed = items[0], items[1]
    saved = api.post(
        f"/api/analyses/{pk}/reviews/",
        {"samples": [corrected["id"]], "klass": "Soybean-maize"},
        format="json",
    )
    assert saved.status_code == 200, saved.json()
    assert saved.json()["saved"] == 1 and saved.json()["counts"]["reviewed"] >= 1
    saved = api.post(
        f"/api/analyses/{pk}/reviews/",
        {"samples": [confirmed["id"]], "klass": confirmed["dynamic_class"]},
        format="json",
    )
    assert saved.status_code == 200, saved.json()
    actions = dict(
        Review.objects.values_list("year", "action").filter(
            label_id=confirmed["label"], year=confirmed["year"]
        )
    )
    assert actions == {confirmed["year"]: "confirm"}
    assert Review.objects.get(label_id=corrected["label"], year=corrected["year"]).action == "correct"
    assert Label.objects.get(pk=corrected["label"]).corrected_class[str(corrected["year"])] == "Soybean-maize"
    body = queue(api, pk)
    assert saved.json()["counts"] == body["counts"]  # the light count after an answer = the queue's
    assert body["counts"]["reviewed"] == 2 and body["counts"]["unreviewed"] == body["counts"]["total"] - 2
    assert [i["id"] for i in body["results"]] == [i["id"] for i in items]  # answered items keep their place
    reviewed = queue(api, pk, status="reviewed")["results"]
    assert {(i["id"], i["answer"], i["action"]) for i in reviewed} == {
        (corrected["id"], "Soybean-maize", "correct"),
        (confirmed["id"], confirmed["dynamic_class"], "confirm"),
    }
    assert all(i["answer"] == "" for i in queue(api, pk, status="unreviewed")["results"])

    # apply: a new analysis, lookups and the TasGen fit reused, the answers in its samples and maps
    applied = api.post(f"/api/analyses/{pk}/apply-reviews/")
    assert applied.status_code == 201, applied.json()
    second = wait_done(api, applied.json()["id"])
    assert second["status"] == "done", second["error_message"]
    assert "lookup" in second["timings"].get("reused", [])
    sample = DynamicSample.objects.get(
        analysis_id=second["id"], label_id=corrected["label"], year=corrected["year"]
    )
    assert sample.dynamic_class == "Soybean-maize"
    kept = DynamicSample.objects.get(
        analysis_id=second["id"], label_id=confirmed["label"], year=confirmed["year"]
    )
    assert kept.dynamic_class == confirmed["dynamic_class"] and kept.confidence == 1.0
    assert {p["kind"] for p in second["products"]} >= {"landcover", "change_from_to"}
    legend = [e["label"] for e in api.get(f"/api/analyses/{second['id']}/legends/").json()["landcover"]]
    assert "Soybean-maize" in legend and UNKNOWN in legend
    areas = second["stats"]["areas"]
    assert areas["classes"][-1] == UNKNOWN and "Soybean-maize" in areas["classes"]
    assert all(UNKNOWN in row for row in areas["area_ha"])  # its own rows in the statistics

    # the pixel panel: the label sample under the click, its answer, year by year
    pixel = api.get(
        f"/api/analyses/{second['id']}/pixel/", {"lon": corrected["lon"], "lat": corrected["lat"]}
    ).json()
    here = {s["year"]: s for s in pixel["samples"] if s["label"] == corrected["label"]}
    assert here[corrected["year"]]["answer"] == here[corrected["year"]]["dynamic_class"] == "Soybean-maize"
    assert {"top_bands", "top_months", "review_reason"} <= set(here[corrected["year"]])

    # the export: the store year of the label date, the reason and the answer
    exported = list(
        csv.DictReader(
            io.StringIO(
                b"".join(api.get(f"/api/analyses/{second['id']}/samples/?fmt=csv").streaming_content).decode()
            )
        )
    )
    assert {r["reference_year"] for r in exported} == {"2012"}  # labels dated Sep 2011: crop year 2012
    answered = [
        r
        for r in exported
        if r["label_id"] == str(corrected["label"]) and r["year"] == str(corrected["year"])
    ]
    assert (
        answered[0]["reviewed_class"] == "Soybean-maize" and answered[0]["dynamic_class"] == "Soybean-maize"
    )


def test_bad_review_input(api, other_api, owner, shared_data) -> None:
    from django.contrib.gis.geos import MultiPolygon, Point, Polygon
    from django.core.files.uploadedfile import SimpleUploadedFile

    from monitoring.models import AOI, LabelSet

    upload = api.post(
        "/api/labelsets/upload/",
        {"file": SimpleUploadedFile("mt.csv", static_labels_csv(shared_data)), "name": "MT"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.json()
    label_set = LabelSet.objects.get(pk=upload.json()["id"])
    aoi = AOI.objects.create(
        owner=owner, name="MT", geometry=MultiPolygon(Polygon.from_bbox((-55.99, -12.05, -55.91, -11.99)))
    )
    # an analysis that never runs (no task is sent): the sample below is written by hand
    analysis = Analysis.objects.create(
        owner=owner, aoi=aoi, label_set=label_set, start_year=2007, end_year=2013
    )
    pk = analysis.pk
    label = label_set.labels.first()
    assert label is not None
    sample = DynamicSample.objects.create(
        analysis=analysis,
        label=label,
        year=2010,
        geometry=Point(label.geometry.x, label.geometry.y, srid=4326),
        static_class=label.klass,
        dynamic_class=UNKNOWN,
        changed=True,
        review_reason=REASON_UNKNOWN,
        review_value=0.5,
    )
    url = f"/api/analyses/{pk}/reviews/"
    cases = [
        ({"samples": [sample.pk + 10_000], "klass": label.klass}, "samples"),  # not a sample of it
        ({"samples": [], "klass": label.klass}, "samples"),
        ({"samples": ["x"], "klass": label.klass}, "samples"),
        ({"samples": [sample.pk], "klass": ""}, "klass"),  # empty class name
        ({"samples": [sample.pk], "klass": "   "}, "klass"),
        ({"samples": [sample.pk], "klass": "x" * 101}, "klass"),  # too long
        ({"samples": [sample.pk], "klass": "Not a class"}, "klass"),
        ({"samples": [sample.pk]}, "klass"),
    ]
    for body, field in cases:
        response = api.post(url, body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert field in response.json(), (body, response.json())
    classes_url = f"/api/labelsets/{analysis.label_set_id}/classes/"
    for body, field in [
        ({"name": ""}, "name"),
        ({"name": "y" * 101}, "name"),
        ({"name": label.klass}, "name"),  # already a class
        ({"name": UNKNOWN}, "name"),
        ({"name": "Ok", "color": "red"}, "color"),
    ]:
        response = api.post(classes_url, body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert field in response.json(), (body, response.json())
    bad_status = api.get(f"/api/analyses/{pk}/review/", {"status": "maybe"})
    assert bad_status.status_code == 400 and "status" in bad_status.json()
    assert api.get(f"/api/analyses/{pk}/review/", {"limit": 0}).status_code == 400
    # another user's analysis and label set do not exist for this user
    assert (
        other_api.post(url, {"samples": [sample.pk], "klass": label.klass}, format="json").status_code == 404
    )
    assert other_api.post(classes_url, {"name": "Mine"}, format="json").status_code == 404
    assert other_api.post(f"/api/analyses/{pk}/apply-reviews/").status_code == 404
    # a good answer on the hand-written sample, then undone with null
    ok = api.post(url, {"samples": [sample.pk], "klass": label.klass}, format="json")
    assert ok.status_code == 200 and Review.objects.filter(label=label, year=2010, action="correct").exists()
    assert api.post(url, {"samples": [sample.pk], "klass": None}, format="json").status_code == 200
    assert not Review.objects.filter(label=label, year=2010).exists()
    assert "2010" not in Label.objects.get(pk=label.pk).corrected_class
    # applying reviews of an analysis that is not done: 409
    assert api.post(f"/api/analyses/{pk}/apply-reviews/").status_code == 409
