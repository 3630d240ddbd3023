from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ml.errors import TasGenError
from ml.tasgen import UNKNOWN
from ml.tasgen.pipeline import TasGenModel, apply_tasgen, attribute_changes, fit_tasgen
from ml.tasgen.series import SampleSeries

from .conftest import SMALL


def test_apply_outputs_per_sample_year(mt_model: TasGenModel, mt_series: SampleSeries) -> None:
    out = apply_tasgen(mt_model, mt_series, seed=0)
    n = mt_series.n_samples
    assert out.klass.shape == out.changed.shape == out.anomaly_score.shape == out.confidence.shape == (n, 1)
    assert out.attribution_month.shape == (n, 1, 12) and out.attribution_dim.shape == (n, 1, 6)
    assert set(np.unique(out.klass)) <= set(mt_model.classes) | {UNKNOWN}  # unknown: a change, unnamed
    assert np.array_equal(out.unknown, out.klass == UNKNOWN) and out.changed[out.unknown].all()
    # changed exactly where the class differs from the static class
    assert np.array_equal(out.changed, out.klass != mt_series.static_class[:, None])
    # most reference-year samples are stable (threshold at median + 3 robust sigmas)
    assert out.changed.mean() < 0.2
    assert np.all((out.confidence >= 0) & (out.confidence <= 1))
    # attributions sum to 1 on changed (attributed) years, 0 elsewhere
    s = out.attribution_month.sum(2)
    assert np.allclose(s[out.changed], 1.0) and np.allclose(s[~out.changed], 0.0)
    assert out.change_years == [[] for _ in range(n)]  # Y = 1: nothing to compare with
    rows = out.to_rows(mt_series.static_class, mt_series.dim_names)
    assert len(rows) == n and "attr_ndvi" in rows[0]


def test_attribution_later_from_a_stored_model_is_the_same(
    mt_model: TasGenModel, mt_series: SampleSeries
) -> None:
    """The app relabels without attribution, then attributes in another task from the stored model."""
    full = apply_tasgen(mt_model, mt_series, seed=3)
    fast = apply_tasgen(mt_model, mt_series, seed=3, attribute=False)
    assert full.changed.any()
    assert np.array_equal(fast.klass, full.klass) and np.array_equal(fast.changed, full.changed)
    assert fast.attribution_month.sum() == 0
    model = TasGenModel.from_arrays(mt_model.to_arrays())
    month, dim = attribute_changes(model, mt_series, fast.changed, fast.anomaly_score, seed=3)
    np.testing.assert_allclose(month, full.attribution_month, atol=1e-6)
    np.testing.assert_allclose(dim, full.attribution_dim, atol=1e-6)


def test_unknown_class_is_a_clear_error(mt_model: TasGenModel, mt_series: SampleSeries) -> None:
    bad = replace(
        mt_series,
        static_class=np.where(np.arange(mt_series.n_samples) == 0, "Cerrado", mt_series.static_class),
    )
    with pytest.raises(TasGenError, match=r"unknown classes \['Cerrado'\]"):
        apply_tasgen(mt_model, bad)


def test_too_few_samples_of_a_class(mt_series: SampleSeries) -> None:
    keep = (
        np.flatnonzero(mt_series.static_class != "Pasture").tolist()
        + np.flatnonzero(mt_series.static_class == "Pasture")[:3].tolist()
    )
    with pytest.raises(TasGenError, match=r"too few samples of classes 'Pasture' \(3\)"):
        fit_tasgen(mt_series.subset(np.array(keep)), SMALL)


def test_single_class_and_nans_are_clear_errors(mt_series: SampleSeries) -> None:
    with pytest.raises(TasGenError, match="at least 2 classes"):
        fit_tasgen(mt_series.subset(mt_series.static_class == "Forest"), SMALL)
    v = mt_series.values.copy()
    v[2, 0, 5, 1] = np.nan
    with pytest.raises(TasGenError, match="NaN"):
        fit_tasgen(replace(mt_series, values=v), SMALL)
