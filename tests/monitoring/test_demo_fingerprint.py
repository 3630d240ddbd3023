"""The demo analysis gives bit-identical samples, statistics and COG pixels (refactors change nothing).

Runs the demo analysis of ``manage.py load_demo`` (Mato Grosso store, AOI over its tiles, the 2011-12
static labels, crop years) in this process and compares its :mod:`fingerprint` with the committed
``tests/data/demo_fingerprint.json``. ``ESD_FINGERPRINT_UPDATE=1`` (``make fingerprint``) rewrites the
file instead, after an intended change of results.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.contrib.gis.db.models import Extent
from django.test import override_settings

from tests.monitoring.fingerprint import FINGERPRINT_FILE, REFRESH_HINT, demo_fingerprint, differences

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_demo_analysis(shared_data: Path) -> int:
    """The demo analysis exactly as ``demo_load`` creates it, run inline; returns its id."""
    from monitoring.models import Analysis, EsdTile
    from monitoring.services.demo import (
        DEMO_ANALYSIS,
        MT_LABELS,
        _aoi,
        _label_set,
        _mt_rows,
        demo_user_ensure,
    )
    from monitoring.services.pipeline.runner import run_inline

    user = demo_user_ensure(username="demo", password="demo-pass-2026")
    w, s, e, n = EsdTile.objects.filter(tile_id="MT-DTWSAT").aggregate(e=Extent("footprint"))["e"]
    dx, dy = (e - w) * 0.01, (n - s) * 0.01
    aoi = _aoi(user, "Mato Grosso demo (MODIS 2007-2013)", w + dx, s + dy, e - dx, n - dy)
    labels = _label_set(user, MT_LABELS, _mt_rows(shared_data))
    analysis = Analysis.objects.create(
        owner=user,
        aoi=aoi,
        label_set=labels,
        start_year=2007,
        end_year=2013,
        name=DEMO_ANALYSIS,
        parameters={"year_start_month": 9},
    )
    done = run_inline(analysis.pk)
    assert done.status == "done", done.error_message
    return done.pk


def test_demo_analysis_fingerprint(demo_store: Path, shared_data: Path, tmp_path: Path) -> None:
    media = tmp_path / "media"
    with override_settings(MEDIA_ROOT=str(media)):
        pk = run_demo_analysis(shared_data)
        actual = demo_fingerprint(pk, media / "analyses" / str(pk))
    assert actual["cogs"] and actual["samples"] and actual["stats"]
    if os.environ.get("ESD_FINGERPRINT_UPDATE") == "1":
        FINGERPRINT_FILE.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
        return
    expected = json.loads(FINGERPRINT_FILE.read_text())
    changed = differences(expected, actual)
    assert not changed, "the demo analysis' results changed:\n  " + "\n  ".join(changed) + "\n" + REFRESH_HINT


def test_transient_errors_are_retried_and_change_nothing(
    demo_store: Path, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dropped connection in relabel and a deadlock in a classify window: retried, same results."""
    from django.db import OperationalError

    from monitoring.services.pipeline import classify, relabel

    failed: list[str] = []

    def once(module: object, name: str, message: str) -> None:
        real = getattr(module, name)

        def flaky(*args: int) -> object:
            if name not in failed:
                failed.append(name)
                raise OperationalError(message)
            return real(*args)

        monkeypatch.setattr(module, name, flaky)

    once(relabel, "relabel", "server closed the connection unexpectedly")
    once(classify, "classify_window", "deadlock detected")
    media = tmp_path / "media"
    with override_settings(MEDIA_ROOT=str(media)):
        pk = run_demo_analysis(shared_data)
        actual = demo_fingerprint(pk, media / "analyses" / str(pk))
    assert failed == ["relabel", "classify_window"]
    expected = json.loads(FINGERPRINT_FILE.read_text())
    changed = differences(expected, actual)
    assert not changed, "results changed after retried transient errors:\n  " + "\n  ".join(changed)
