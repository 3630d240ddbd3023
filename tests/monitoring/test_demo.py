"""``manage.py load_demo`` builds the demo stores, AOIs, label sets and a finished analysis; reruns are no-ops."""

from __future__ import annotations

import pytest
from django.test import override_settings

from monitoring.models import AOI, Analysis, EsdTile, Label, LabelSet
from monitoring.services.demo import demo_load

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_load_demo_twice(tmp_path, shared_data) -> None:
    with override_settings(
        ESD_STORE=str(tmp_path / "store"), MEDIA_ROOT=str(tmp_path / "media"), SHARED_DATA_DIR=shared_data
    ):
        lines = demo_load(username="demo", password="demo-pass-2026")
        assert any("demo analysis" in ln and "done" in ln for ln in lines), lines
        counts = (
            EsdTile.objects.count(),
            AOI.objects.count(),
            LabelSet.objects.count(),
            Label.objects.count(),
            Analysis.objects.count(),
        )
        assert counts[0] >= 31 and counts[1] >= 2 and counts[2] == 2 and counts[4] == 1
        again = demo_load(username="demo", password="demo-pass-2026")
        assert any("0 new" in ln for ln in again)
        assert (
            EsdTile.objects.count(),
            AOI.objects.count(),
            LabelSet.objects.count(),
            Label.objects.count(),
            Analysis.objects.count(),
        ) == counts
        assert Analysis.objects.get().status == "done"
