"""Per-class probabilities of the map classifier (ml/mapping.py) on a tiny synthetic window."""

from __future__ import annotations

import numpy as np

from ml.mapping import NODATA_CLASS, MapperConfig, fit_mapper, predict_proba_window, predict_window


def test_probabilities_cover_every_class_and_agree_with_the_classes() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (60, 72)), rng.normal(3, 1, (60, 72))]).astype(np.float32)
    y = np.repeat([0, 2], 60)  # class 1 of the label set has no samples
    model = fit_mapper(x, y, MapperConfig(trees=20, n_jobs=1))
    codes = rng.normal(1.5, 2, (2, 12, 6, 5, 4)).astype(np.float32)  # (Y, 12, 6, H, W)
    valid = np.ones((2, 5, 4), dtype=bool)
    valid[1, 0, 0] = False
    probs = predict_proba_window(model, codes, valid, n_classes=3)
    assert probs.shape == (2, 3, 5, 4) and probs.dtype == np.float16
    assert np.isnan(probs[1, :, 0, 0]).all()
    ok = np.moveaxis(probs, 1, -1)[valid].astype(np.float32)  # (n valid pixel-years, C)
    np.testing.assert_allclose(ok.sum(axis=1), 1.0, atol=2e-3)
    assert (ok[:, 1] == 0).all()
    classes = predict_window(model, codes, valid)
    top = np.where(valid, np.nan_to_num(probs.astype(np.float32), nan=-1).argmax(axis=1), NODATA_CLASS)
    np.testing.assert_array_equal(classes, top)
