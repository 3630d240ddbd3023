"""Monthly compositing of real cloudy Landsat pixels (LCMAP ARD QA bits, Fmask CSV) and MODIS samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.errors import CompositeError
from ml.esd.composite import (
    ard_qa_clear,
    composite_monthly,
    composite_samples,
    composite_years,
    fill_gaps,
    fmask_clear,
)
from ml.samples import load_samples

PIXEL = "pixels/lcmap_pyccd/h03v09_-2010765_1964625_pixel.npy"
ORDINAL_1970 = 719163  # date(1970, 1, 1).toordinal()


def _lcmap_pixel(shared_data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.load(shared_data / PIXEL, allow_pickle=True)[1]
    dates = (np.asarray(d["dates"], dtype=np.int64) - ORDINAL_1970).astype("datetime64[D]")
    bands = ("blues", "greens", "reds", "nirs", "swir1s", "swir2s")
    values = np.stack([np.asarray(d[b], dtype=np.float32) / 10000.0 for b in bands], axis=-1)
    return dates, values, np.asarray(d["qas"])


def test_ard_qa_bits_on_real_values() -> None:
    # 66 clear (+ low cloud confidence), 322 clear (+ cirrus bit), 1 fill, 72 shadow, 80 snow, 96/224 cloud
    qa = np.array([66, 322, 130, 1, 72, 80, 96, 224, 112])
    assert ard_qa_clear(qa).tolist() == [True, True, True, False, False, False, False, False, False]
    assert fmask_clear(np.array([0, 1, 2, 3, 4, 255])).tolist() == [True, True, False, False, False, False]


def test_real_landsat_year_cloudy_months_filled(shared_data: Path) -> None:
    dates, values, qa = _lcmap_pixel(shared_data)
    clear = ard_qa_clear(qa)
    comp = composite_years(values[None], dates, [2010], clear[None])[2010]
    # 2010 at this pixel: every January-March acquisition is fill, cloud, shadow or snow
    expected_valid = np.array([False, False, False] + [True] * 9)
    assert comp.valid[0].tolist() == expected_valid.tolist()
    month = (dates.astype("datetime64[M]") - np.datetime64("2010-01", "M")).astype(int)
    for m in range(3, 12):
        sel = (month == m) & clear
        assert comp.counts[0, m] == sel.sum()
        np.testing.assert_allclose(comp.values[0, m], values[sel].mean(axis=0), rtol=1e-5)
    # January is 1 month after December (wrapping the year) and 3 before April
    dec, apr = comp.values[0, 11], comp.values[0, 3]
    np.testing.assert_allclose(comp.values[0, 0], 0.75 * dec + 0.25 * apr, rtol=1e-5)
    np.testing.assert_allclose(comp.values[0, 2], 0.25 * dec + 0.75 * apr, rtol=1e-5)
    assert np.all((comp.values > -0.05) & (comp.values < 1.0))


def test_fmask_csv_pixel_crop_year(shared_data: Path) -> None:
    rows = np.loadtxt(shared_data / "pixels/lcmap_pyccd/sample_2.csv", delimiter=",")
    dates = (rows[:, 0].astype(np.int64) - ORDINAL_1970).astype("datetime64[D]")
    values = rows[None, :, 1:7].astype(np.float32) / 10000.0
    clear = fmask_clear(rows[None, :, 8])
    years = sorted({int(y) for y in dates.astype("datetime64[Y]").astype(int) + 1970})[1:-1]
    comps = composite_years(values, dates, years, clear, start_month=9)
    total_valid = sum(int(c.valid.sum()) for c in comps.values())
    assert 0 < total_valid < 12 * len(years)  # some months are cloudy all month long
    for year, c in comps.items():
        assert c.year_start[0] == np.datetime64(f"{year - 1}-09", "M")
        assert np.isfinite(c.values).all()


def test_modis_samples_to_12_months(shared_data: Path) -> None:
    s = load_samples(shared_data / "samples/matogrosso_modis_9classes.npz")
    comp = composite_samples(s, ("blue", "red", "nir", "mir"))
    assert comp.values.shape == (len(s), 12, 4)
    assert comp.valid.all()  # the 23 16-day steps cover every month
    assert comp.counts.sum(axis=1).max() <= 23
    # September (step 0) of a row is the mean of its September 16-day steps
    row = 0
    sel = s.dates[row].astype("datetime64[M]") == s.start_date[row].astype("datetime64[M]")
    np.testing.assert_allclose(
        comp.values[row, 0], s.select_bands(("blue", "red", "nir", "mir")).X[row, sel].mean(axis=0), rtol=1e-5
    )


def test_fill_gaps_edge_cases() -> None:
    v = np.zeros((3, 12, 1), np.float32)
    v[0, 5] = 0.4  # one valid month -> constant
    valid = np.zeros((3, 12), bool)
    valid[0, 5] = True
    valid[2] = True
    v[2, :, 0] = np.arange(12) / 10
    out = fill_gaps(v, valid)
    assert np.allclose(out[0], 0.4)
    assert np.allclose(out[1], 0.0)  # no valid month: nodata row stays 0
    assert np.allclose(out[2, :, 0], np.arange(12) / 10)
    with pytest.raises(CompositeError):
        composite_monthly(np.zeros((2, 3)), np.zeros(3, "datetime64[D]"), np.datetime64("2010-01"))


def test_pixel_series_reader_dates(shared_data: Path) -> None:
    from ml.esd.rasters import read_pixel_series

    julian = read_pixel_series(shared_data / "pixels/lcmap_pyccd/sample_1.csv")  # Julian-day dates
    assert julian.dates[0] == np.datetime64("2012-02-15") and julian.dates[-1] == np.datetime64("2014-12-29")
    npy = read_pixel_series(shared_data / PIXEL)  # ordinal dates, ARD QA
    dates, values, qa = _lcmap_pixel(shared_data)
    assert npy.values.shape == values.shape and npy.clear.sum() == ard_qa_clear(qa).sum()
    assert np.all(np.diff(npy.dates.astype(np.int64)) >= 0)
