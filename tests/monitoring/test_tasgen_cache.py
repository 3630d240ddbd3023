"""The TasGen model cache holds plain arrays: an unreadable or pickled (older version's) model is a
cache miss, and the attribution task fits the model again instead of failing or explaining nothing."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from monitoring.models import AOI, Analysis, LabelSet
from testkit.mato_grosso import static_labels_csv

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_pickled_model_cache_is_a_miss_and_is_fitted_again(
    api, owner, demo_store, shared_data, tmp_path: Path
) -> None:
    from monitoring.services.pipeline.attribute import compute_attribution
    from monitoring.services.pipeline.relabel import attribution_path, load_model, model_path
    from monitoring.services.pipeline.runner import run_inline
    from monitoring.storage.inputs import AnalysisInputs
    from monitoring.storage.paths import load_npz

    with override_settings(MEDIA_ROOT=str(tmp_path / "media")):
        labels = SimpleUploadedFile("l.csv", static_labels_csv(shared_data))
        assert api.post("/api/labelsets/upload/", {"file": labels}, format="multipart").status_code == 201
        w, s, e, n = -55.99, -12.05, -55.91, -11.99
        ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
        aoi = {"name": "a", "geometry": {"type": "Polygon", "coordinates": [ring]}}
        assert api.post("/api/aois/", aoi, format="json").status_code == 201
        analysis = Analysis.objects.create(
            owner=owner,
            aoi=AOI.objects.get(),
            label_set=LabelSet.objects.get(),
            start_year=2007,
            end_year=2013,
            parameters={"tasgen": {"epochs": 30}},
        )
        done = run_inline(analysis.pk)
        assert done.status == "done", done.error_message
        inputs = AnalysisInputs(done)
        path = model_path(inputs)
        model = load_model(inputs)
        assert model is not None and path.suffix == ".npz"
        stored = load_npz(attribution_path(inputs))
        assert stored["att_month"].sum() > 0  # TasGen saw changes and explained them

        for old in (pickle.dumps(model), b"not a model", path.read_bytes()[:1000]):
            path.write_bytes(old)  # the previous version's pickle, garbage, a truncated file
            assert load_model(inputs) is None
        attribution_path(inputs).unlink()  # as if relabel had finished before the upgrade
        again = compute_attribution(inputs)
        for key, value in stored.items():
            assert np.array_equal(again[key], value), key
        assert load_model(inputs) is not None  # stored again, as plain arrays
