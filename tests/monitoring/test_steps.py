"""The step graph without a broker: the table's consistency, pending/resume per stage, joins, retries.

A real database (the analysis row, its stage and status) and real marker and window files; the
sending is a list (a fake enqueue), so no worker or broker is involved.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import OperationalError
from django.test import override_settings
from rasterio.crs import CRS

from ml.grid import Grid
from monitoring.models import AOI, Analysis, Label, LabelSet
from monitoring.services.pipeline import resume, runner, state
from monitoring.services.pipeline.classify import window_output
from monitoring.services.pipeline.steps import (
    FINALIZE_JOIN,
    NEXT_STAGE,
    STAGE_LINE,
    STAGE_SPAN,
    STEP,
    STEPS,
    Join,
    Part,
    Stage,
    stages_json,
)
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import work_dir


def test_the_table_is_consistent() -> None:
    tasks = {s.task for s in STEPS}
    for step in STEPS:
        for then in step.then:
            assert (then.then if isinstance(then, Join) else then) in tasks, step.task
        assert set(step.stages) <= set(STAGE_SPAN), step.task
        assert step.per_window == bool(step.window_output), step.task
        runner._function(step)  # every function exists
    written = {s.part for s in STEPS if s.part}
    assert written == set(Part) and {p for s in STEPS for p in s.needs} <= written
    assert [s["stage"] for s in stages_json()] == [s.value for s in STAGE_LINE]
    assert NEXT_STAGE[Stage.LOOKUP] == Stage.RELABEL and NEXT_STAGE[Stage.FINALIZE] == Stage.DONE


@pytest.fixture
def analysis(tmp_path: Path, django_user_model):
    """A running analysis over a 2-window grid (no store needed: the grid file is written)."""
    with override_settings(MEDIA_ROOT=str(tmp_path)):
        owner = django_user_model.objects.create_user("steps", password="steps-pass-2026")
        square = Polygon(((-56, -12), (-55.9, -12), (-55.9, -11.9), (-56, -11.9), (-56, -12)), srid=4326)
        aoi = AOI.objects.create(owner=owner, name="a", geometry=MultiPolygon(square, srid=4326))
        labels = LabelSet.objects.create(owner=owner, name="l", classes=[{"name": "A", "color": "#000000"}])
        Label.objects.create(
            label_set=labels,
            row=1,
            geometry=Point(-55.95, -11.95, srid=4326),
            klass="A",
            reference_date=datetime.date(2011, 1, 1),
        )
        a = Analysis.objects.create(
            owner=owner,
            aoi=aoi,
            label_set=labels,
            start_year=2010,
            end_year=2012,
            status=Analysis.Status.RUNNING,
        )
        grid = Grid(
            CRS.from_epsg(32721).to_wkt(), (30.0, 0.0, 0.0, 0.0, -30.0, 0.0), width=3, height=2, window_px=2
        )
        grid.save(work_dir(a.pk, "lookup") / "grid.json")
        yield a


def names(tasks: list[tuple[str, tuple[int, ...]]]) -> list[str]:
    return [f"{n}{list(args[1:]) if len(args) > 1 else ''}" for n, args in tasks]


def at(analysis: Analysis, stage: Stage) -> Analysis:
    Analysis.objects.filter(pk=analysis.pk).update(stage=stage)
    return Analysis.objects.get(pk=analysis.pk)


@pytest.mark.django_db
def test_pending_per_stage(analysis: Analysis) -> None:
    pk = analysis.pk
    assert names(resume.pending(at(analysis, Stage.QUEUED))) == ["analysis.start"]
    assert names(resume.pending(at(analysis, Stage.LOOKUP))) == ["analysis.start"]
    assert names(resume.pending(at(analysis, Stage.RELABEL))) == ["analysis.relabel", "analysis.esd_products"]
    state.mark_done(pk, Part.ESD_PRODUCTS)
    assert names(resume.pending(at(analysis, Stage.RELABEL))) == ["analysis.relabel"]
    classify = at(analysis, Stage.CLASSIFY)
    assert names(resume.pending(classify)) == [
        "analysis.attribute",
        "analysis.classify_window[0]",
        "analysis.classify_window[1]",
    ]
    inputs = AnalysisInputs(classify)
    window_output(inputs, 0).parent.mkdir(parents=True, exist_ok=True)
    window_output(inputs, 0).write_bytes(b"")
    assert names(resume.pending(classify)) == ["analysis.attribute", "analysis.classify_window[1]"]
    window_output(inputs, 1).write_bytes(b"")
    state.mark_done(pk, Part.ATTRIBUTION)
    assert names(resume.pending(classify)) == ["analysis.classify_window[0]"]  # closes the stage
    # the steps that must finish in the change stage are all sent: a done one re-runs the join
    assert names(resume.pending(at(analysis, Stage.CHANGE))) == [
        "analysis.attribute",
        "analysis.esd_products",
        "analysis.change",
    ]
    assert names(resume.pending(at(analysis, Stage.FINALIZE))) == ["analysis.finalize"]


@pytest.mark.django_db
def test_resume_sends_with_the_given_enqueue(analysis: Analysis) -> None:
    sent: list[tuple[object, ...]] = []
    at(analysis, Stage.CHANGE)
    assert resume.resume(analysis.pk, lambda *a: sent.append(a)) == [
        "analysis.attribute",
        "analysis.esd_products",
        "analysis.change",
    ]
    assert sent == [
        (t, analysis.pk) for t in ("analysis.attribute", "analysis.esd_products", "analysis.change")
    ]
    sent.clear()
    assert resume.resume_if_past(analysis.pk, "analysis.classify_window", lambda *a: sent.append(a))
    assert not resume.resume_if_past(analysis.pk, "analysis.attribute", lambda *a: sent.append(a))
    Analysis.objects.filter(pk=analysis.pk).update(status=Analysis.Status.DONE)
    assert resume.resume(analysis.pk, lambda *a: sent.append(a)) == []


@pytest.mark.django_db
def test_the_last_party_of_a_join_moves_the_stage_once(analysis: Analysis) -> None:
    pk = analysis.pk
    at(analysis, Stage.CHANGE)
    state.mark_done(pk, Part.CHANGE)
    state.mark_done(pk, Part.ESD_PRODUCTS)
    assert not runner._join(pk, FINALIZE_JOIN)
    state.mark_done(pk, Part.ATTRIBUTION)
    assert runner._join(pk, FINALIZE_JOIN)
    assert not runner._join(pk, FINALIZE_JOIN)  # exactly one mover
    moved = Analysis.objects.get(pk=pk)
    assert moved.stage == Stage.FINALIZE and moved.progress == STAGE_SPAN[Stage.FINALIZE][0]


@pytest.mark.django_db
def test_a_transient_error_leaves_the_analysis_running_for_the_retry(
    analysis: Analysis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OperationalError`` (lock, deadlock, dropped connection) re-raises for the task's retry."""
    from monitoring.services.pipeline import finalize

    at(analysis, Stage.FINALIZE)

    def locked(analysis_id: int) -> bool:
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(finalize, "finalize", locked)
    with pytest.raises(OperationalError):
        runner.run_step("analysis.finalize", analysis.pk, enqueue=lambda *a: None)
    assert Analysis.objects.get(pk=analysis.pk).status == Analysis.Status.RUNNING

    def broken(analysis_id: int) -> bool:
        raise KeyError("bug")

    monkeypatch.setattr(finalize, "finalize", broken)
    with pytest.raises(KeyError):
        runner.run_step("analysis.finalize", analysis.pk, enqueue=lambda *a: None)
    failed = Analysis.objects.get(pk=analysis.pk)
    assert (
        failed.status == Analysis.Status.FAILED
        and "unexpected problem in the finalize step" in failed.error_message
    )


def test_pipeline_tasks_retry_transient_errors() -> None:
    from tasks.analysis import PIPELINE_TASKS

    assert set(PIPELINE_TASKS) == set(STEP)
    for task in PIPELINE_TASKS.values():
        assert set(task.autoretry_for) == set(runner.TRANSIENT)
