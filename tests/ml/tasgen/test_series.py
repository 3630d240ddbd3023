from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ml.errors import TasGenError
from ml.samples import load_samples
from ml.tasgen.series import SampleSeries, monthly_means, series_from_samples

from .conftest import CERRADO_MY, PRODES


def test_monthly_means_of_real_16_day_series() -> None:
    s = load_samples(PRODES)
    m = monthly_means(s.X, s.dates, s.start_date)
    assert m.shape == (len(s), 12, 3)
    assert np.isfinite(m).all()
    # month 0 is the window's first month: the mean of the steps dated in that month
    first_month = s.dates[0].astype("datetime64[M]") == s.start_date[0].astype("datetime64[M]")
    assert np.allclose(m[0, 0], s.X[0, first_month].mean(0), atol=1e-6)


def test_series_from_multiyear_file_has_one_sample_per_location() -> None:
    s = load_samples(CERRADO_MY)
    located = series_from_samples(s)
    ser = located.series
    ser.validate()
    assert ser.n_samples == len(np.unique(s.location_ids()))
    assert ser.values.shape[1:] == (len(np.unique(s.year)), 12, 2)
    assert int(ser.valid.sum()) == len(s)
    assert set(ser.static_class) <= {"Cerrado", "Pasture"}
    # the reference year is the first year with data
    assert np.all(ser.valid[np.arange(ser.n_samples), ser.reference_index])
    assert not np.any(np.cumsum(ser.valid, 1)[np.arange(ser.n_samples), ser.reference_index] > 1)


def _tiny() -> SampleSeries:
    rng = np.random.default_rng(0)
    return SampleSeries(
        values=rng.normal(size=(4, 2, 12, 3)).astype(np.float32),
        valid=np.ones((4, 2), dtype=bool),
        years=(2010, 2011),
        static_class=np.array(["A", "A", "B", "B"]),
        reference_year=np.array([2010, 2010, 2011, 2011]),
        dim_names=("a", "b", "c"),
    )


def test_validate_rejects_nan_in_valid_year_but_not_in_invalid_year() -> None:
    s = _tiny()
    v = s.values.copy()
    v[1, 1, 3, 0] = np.nan
    with pytest.raises(TasGenError, match="NaN"):
        replace(s, values=v).validate()
    valid = s.valid.copy()
    valid[1, 1] = False
    replace(s, values=v, valid=valid).validate()


def test_validate_rejects_bad_shapes_and_years() -> None:
    s = _tiny()
    with pytest.raises(TasGenError, match=r"\(N, Y, 12, D\)"):
        replace(s, values=s.values[:, :, :6]).validate()
    with pytest.raises(TasGenError, match="reference years \\[2020\\]"):
        replace(s, reference_year=np.array([2010, 2010, 2020, 2011])).validate()
    with pytest.raises(TasGenError, match="increasing"):
        replace(s, years=(2011, 2010)).validate()
    valid = s.valid.copy()
    valid[0, 0] = False
    with pytest.raises(TasGenError, match="no data in their reference year"):
        replace(s, valid=valid).validate()
