"""Progress within a stage (issue 16): the workers record which step a stage is at (``timings["step"]``),
the API returns it, and window tasks finishing out of order never move it backwards."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from monitoring.models import AOI, Analysis, LabelSet
from monitoring.services.pipeline import state

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(owner) -> Analysis:
    aoi = AOI.objects.create(
        owner=owner,
        name="a",
        geometry=MultiPolygon(Polygon.from_bbox((-56.0, -12.1, -55.9, -12.0)), srid=4326),
    )
    labels = LabelSet.objects.create(owner=owner, name="l", classes=[{"name": "Forest", "color": "#228b22"}])
    return Analysis.objects.create(
        owner=owner,
        aoi=aoi,
        label_set=labels,
        start_year=2007,
        end_year=2013,
        status=Analysis.Status.RUNNING,
        stage=Analysis.Stage.LOOKUP,
        timings={"lookup": 1.5},
    )


def test_steps_are_recorded_never_backwards_and_shown_by_the_api(running, api) -> None:
    state.set_step(running.pk, "lookup", "windows", 0, 8)
    state.set_step(running.pk, "lookup", "windows", 3, 8)
    state.set_step(running.pk, "lookup", "windows", 2, 8)  # an earlier window task finishing late
    running.refresh_from_db()
    assert running.timings == {
        "lookup": 1.5,
        "step": {"stage": "lookup", "what": "windows", "done": 3, "total": 8},
    }
    state.set_step(running.pk, "classify", "windows", 1, 8)  # not this analysis' stage: ignored
    running.refresh_from_db()
    assert running.timings["step"]["stage"] == "lookup"
    body = api.get(f"/api/analyses/{running.pk}/").json()
    assert body["timings"]["step"] == {"stage": "lookup", "what": "windows", "done": 3, "total": 8}
    assert body["started_at"] is None or isinstance(body["started_at"], str)
