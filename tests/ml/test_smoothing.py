"""Bayesian spatial smoothing of class probabilities (ml/smoothing.py) on tiny synthetic grids."""

from __future__ import annotations

import numpy as np
import pytest

from ml.errors import ProductError
from ml.smoothing import SmoothingConfig, bayes_smooth, smooth_series


def two_class(first: np.ndarray) -> np.ndarray:
    """(2, H, W) probabilities from the first class's map."""
    return np.stack([first, 1.0 - first])


def test_lone_noisy_pixel_follows_its_uniform_neighbourhood() -> None:
    rng = np.random.default_rng(0)
    first = rng.uniform(0.85, 0.95, size=(7, 7))
    first[3, 3] = 0.3  # one pixel says class 1 among confident class-0 neighbours
    out = bayes_smooth(two_class(first), np.ones((7, 7), bool), window=3, smoothness=10.0)
    assert out[0, 3, 3] > 0.5  # pulled to class 0
    np.testing.assert_allclose(out.sum(axis=0), 1.0, atol=1e-6)


def test_boundary_between_two_uniform_fields_stays() -> None:
    first = np.full((6, 8), 0.9)
    first[:, 4:] = 0.1
    out = bayes_smooth(two_class(first), np.ones((6, 8), bool), window=3, smoothness=10.0)
    assert (out[0, :, :4] > 0.5).all() and (out[0, :, 4:] < 0.5).all()


def test_invalid_pixels_neither_use_nor_lend_values() -> None:
    first = np.full((5, 5), 0.9)
    first[2, 2] = 0.2
    valid = np.ones((5, 5), bool)
    valid[2, 3] = False
    first[2, 3] = 0.0  # a no-data value that must not pull its neighbours
    out = bayes_smooth(two_class(first), valid, window=3, smoothness=10.0)
    assert np.isnan(out[:, 2, 3]).all()
    ref = first.copy()
    ref[2, 3] = 0.9
    alone = bayes_smooth(two_class(ref), np.ones((5, 5), bool), window=3, smoothness=10.0)
    assert out[0, 2, 2] != pytest.approx(alone[0, 2, 2])  # one neighbour fewer changes the estimate
    assert out[0, 1, 1] > 0.85


def test_more_smoothness_pulls_harder() -> None:
    first = np.full((5, 5), 0.9)
    first[2, 2] = 0.3
    first[0, 0] = 0.7  # some spread so the neighbourhood variance is not zero
    low = bayes_smooth(two_class(first), np.ones((5, 5), bool), window=3, smoothness=0.5)
    high = bayes_smooth(two_class(first), np.ones((5, 5), bool), window=3, smoothness=50.0)
    assert high[0, 2, 2] > low[0, 2, 2]


def test_series_and_disabled() -> None:
    p = np.stack([two_class(np.full((4, 4), 0.8))] * 3)  # (3, 2, 4, 4)
    valid = np.ones((3, 4, 4), bool)
    out = smooth_series(p, valid, SmoothingConfig(enabled=True))
    assert out.shape == p.shape
    np.testing.assert_allclose(out, p, atol=1e-4)  # a uniform field is left as it is
    np.testing.assert_array_equal(
        smooth_series(p, valid, SmoothingConfig(enabled=False)), p.astype(np.float32)
    )
    with pytest.raises(ProductError):
        bayes_smooth(p[0], valid[0], window=2)
