"""The map classifier (ml/mapping.py): per-class probabilities on a tiny synthetic window, both models,
and the pickle-free model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from ml.errors import SamplesError
from ml.mapping import (
    NODATA_CLASS,
    MapperConfig,
    fit_mapper,
    load_mapper,
    predict_proba_window,
    predict_window,
    save_mapper,
)


def two_blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 1, (60, 72)), rng.normal(3, 1, (60, 72))]).astype(np.float32)
    return x, np.repeat([0, 2], 60)  # class 1 of the label set has no samples


@pytest.mark.parametrize("model", ["mlp", "forest"])
def test_probabilities_cover_every_class_and_agree_with_the_classes(model: str) -> None:
    x, y = two_blobs()
    mapper = fit_mapper(x, y, MapperConfig(model=model, trees=20, n_jobs=1))
    rng = np.random.default_rng(1)
    codes = rng.normal(1.5, 2, (2, 12, 6, 5, 4)).astype(np.float32)  # (Y, 12, 6, H, W)
    valid = np.ones((2, 5, 4), dtype=bool)
    valid[1, 0, 0] = False
    probs = predict_proba_window(mapper, codes, valid, n_classes=3)
    assert probs.shape == (2, 3, 5, 4) and probs.dtype == np.float16
    assert np.isnan(probs[1, :, 0, 0]).all()
    ok = np.moveaxis(probs, 1, -1)[valid].astype(np.float32)  # (n valid pixel-years, C)
    np.testing.assert_allclose(ok.sum(axis=1), 1.0, atol=2e-3)
    assert (ok[:, 1] == 0).all()
    classes = predict_window(mapper, codes, valid)
    top = np.where(valid, np.nan_to_num(probs.astype(np.float32), nan=-1).argmax(axis=1), NODATA_CLASS)
    np.testing.assert_array_equal(classes, top)
    assert set(np.unique(classes[valid])) <= {0, 2}


def test_mlp_separates_classes_and_is_reproducible() -> None:
    x, y = two_blobs()
    a = fit_mapper(x, y, MapperConfig(model="mlp", seed=3))
    b = fit_mapper(x, y, MapperConfig(model="mlp", seed=3))
    xt, yt = two_blobs(seed=9)
    assert np.mean(a.predict(xt) == yt) > 0.95
    np.testing.assert_array_equal(a.predict_proba(xt), b.predict_proba(xt))


@pytest.mark.parametrize("model", ["mlp", "forest"])
def test_model_file_is_plain_arrays_and_predicts_the_same(tmp_path: Path, model: str) -> None:
    x, y = two_blobs()
    mapper = fit_mapper(x, y, MapperConfig(model=model, trees=10, n_jobs=1))
    path = save_mapper(tmp_path / "model.npz", mapper)
    with np.load(path, allow_pickle=False) as data:  # raises on any object array
        assert str(data["model"]) == model and all(data[k].dtype != object for k in data.files)
    back = load_mapper(path)
    xt, _ = two_blobs(seed=5)
    np.testing.assert_array_equal(back.predict_proba(xt), mapper.predict_proba(xt))
    np.testing.assert_array_equal(back.classes_, [0, 2])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_forest_gives_scikit_learns_probabilities(n_jobs: int) -> None:
    x, y = two_blobs()
    rng = np.random.default_rng(2)
    y = np.where(rng.random(y.size) < 0.2, 1, y)  # noisy labels: leaves with mixed classes
    config = MapperConfig(model="forest", trees=15, max_depth=4, n_jobs=n_jobs, seed=7)
    mapper = fit_mapper(x, y, config)
    ref = RandomForestClassifier(n_estimators=15, max_depth=4, n_jobs=1, random_state=7).fit(x, y)
    xt, _ = two_blobs(seed=6)
    np.testing.assert_allclose(mapper.predict_proba(xt), ref.predict_proba(xt), atol=1e-6)


def test_unknown_model_and_single_class_are_refused() -> None:
    x, y = two_blobs()
    with pytest.raises(SamplesError, match="must be one of"):
        fit_mapper(x, y, MapperConfig(model="svm"))
    with pytest.raises(SamplesError, match="at least 2 classes"):
        fit_mapper(x, np.zeros_like(y))
