"""Irregular, cloudy observations of a pixel -> one year as 12 monthly steps with a validity mask.

Each row (pixel-year) gets 12 monthly means of its clear observations, counted from ``year_start``
(January for calendar years, September for the Brazilian crop years). Months with no clear
observation are filled by linear interpolation in time between the nearest valid months, wrapping
across the year boundary (December's neighbour is January), and flagged invalid in ``valid``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.errors import CompositeError
from ml.esd.codec import STEPS
from ml.samples import SampleSet

# Landsat ARD bit-packed QA (LCMAP / pyccd "QA_BITPACKED"): bit 0 fill, 1 clear, 2 water, 3 shadow,
# 4 snow, 5 cloud. Fmask values (Colorado scenes, pyccd CSVs): 0 clear land, 1 water, 2 shadow, 3 snow,
# 4 cloud, 255 fill.
ARD_FILL_BIT, ARD_CLEAR_BIT, ARD_WATER_BIT = 0, 1, 2
ARD_SHADOW_BIT, ARD_SNOW_BIT, ARD_CLOUD_BIT = 3, 4, 5
FMASK_CLEAR_VALUES: tuple[int, ...] = (0, 1)  # clear land, water


@dataclass(frozen=True)
class MonthlyComposite:
    """12 monthly steps per row; all arrays share the first axis ``N`` (one row per pixel-year)."""

    values: np.ndarray  # (N, 12, B) float32 monthly means, gap-filled; 0 where the row has no valid month
    valid: np.ndarray  # (N, 12) bool: the month had >= 1 clear observation (False = filled or empty)
    counts: np.ndarray  # (N, 12) int16 number of clear observations averaged into each month
    year_start: np.ndarray  # (N,) datetime64[M] first month of each row's 12-month window

    @property
    def has_data(self) -> np.ndarray:
        """(N,) bool: rows with at least one valid month (the others are nodata)."""
        return np.asarray(self.valid.any(axis=1))


def ard_qa_clear(qa: np.ndarray) -> np.ndarray:
    """Clear (land or water) observations from Landsat ARD bit-packed QA; fill, cloud, shadow, snow False."""
    q = np.asarray(qa).astype(np.int64)
    clear = ((q >> ARD_CLEAR_BIT) & 1).astype(bool) | ((q >> ARD_WATER_BIT) & 1).astype(bool)
    bad = (
        (q >> ARD_FILL_BIT) & 1
        | (q >> ARD_SHADOW_BIT) & 1
        | (q >> ARD_SNOW_BIT) & 1
        | (q >> ARD_CLOUD_BIT) & 1
    )
    return clear & ~bad.astype(bool)


def fmask_clear(fmask: np.ndarray) -> np.ndarray:
    """Clear observations from Fmask values (0 clear land, 1 water); shadow, snow, cloud, fill False."""
    return np.isin(np.asarray(fmask), FMASK_CLEAR_VALUES)


def fill_gaps(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill invalid months ``(N, 12, B)`` linearly between the nearest valid months, cyclically.

    A row with one valid month becomes constant; a row with none becomes 0. Valid months are kept.
    """
    n, steps, _ = values.shape
    filled = np.where(valid[..., None], values, 0.0).astype(np.float32)
    months = np.arange(steps)
    prev_d = np.full((n, steps), steps, dtype=np.int64)  # distance back to the nearest valid month
    next_d = np.full((n, steps), steps, dtype=np.int64)  # distance forward to the nearest valid month
    for d in range(steps - 1, 0, -1):  # descending, so the smallest distance wins
        prev_d = np.where(valid[:, (months - d) % steps], d, prev_d)
        next_d = np.where(valid[:, (months + d) % steps], d, next_d)
    gap = ~valid & valid.any(axis=1, keepdims=True)
    if not gap.any():
        return filled
    rows, cols = np.nonzero(gap)
    dp, dn = prev_d[rows, cols], next_d[rows, cols]
    vp = filled[rows, (cols - dp) % steps]  # (G, B)
    vn = filled[rows, (cols + dn) % steps]
    w = (dp / (dp + dn)).astype(np.float32)[:, None]
    filled[rows, cols] = vp * (1.0 - w) + vn * w
    return filled


def composite_monthly(
    values: np.ndarray,
    dates: np.ndarray,
    year_start: np.ndarray | np.datetime64,
    clear: np.ndarray | None = None,
) -> MonthlyComposite:
    """Average the clear observations of each row into 12 months from ``year_start``, then fill gaps.

    Args:
        values: ``(N, T, B)`` observations (reflectance 0-1 or an index); NaN counts as not clear.
        dates: ``(T,)`` or ``(N, T)`` datetime64 acquisition dates.
        year_start: first month of the window, scalar or ``(N,)`` (any datetime64, truncated to month).
        clear: ``(N, T)`` bool, True for usable observations (see :func:`ard_qa_clear`,
            :func:`fmask_clear`); None means all finite observations are clear.

    Observations outside the 12-month window are ignored.
    """
    v = np.asarray(values, dtype=np.float32)
    if v.ndim != 3:
        raise CompositeError(f"values must be (N, T, B), got shape {v.shape}")
    n, t, b = v.shape
    d = np.asarray(dates).astype("datetime64[M]")
    if d.shape not in ((t,), (n, t)):
        raise CompositeError(f"dates must be ({t},) or ({n}, {t}), got shape {d.shape}")
    start = np.broadcast_to(np.asarray(year_start).astype("datetime64[M]"), (n,))
    month = (np.broadcast_to(d, (n, t)) - start[:, None]).astype(np.int64)  # (N, T) months since start
    ok = np.isfinite(v).all(axis=2) & (month >= 0) & (month < STEPS)
    if clear is not None:
        c = np.asarray(clear, dtype=bool)
        if c.shape != (n, t):
            raise CompositeError(f"clear must be ({n}, {t}), got shape {c.shape}")
        ok &= c
    onehot = (month[..., None] == np.arange(STEPS)) & ok[..., None]  # (N, T, 12)
    w = onehot.astype(np.float32)
    counts = w.sum(axis=1)  # (N, 12)
    sums = np.einsum("ntk,ntb->nkb", w, np.where(ok[..., None], v, 0.0))
    valid = counts > 0
    means = sums / np.maximum(counts, 1.0)[..., None]
    return MonthlyComposite(
        values=fill_gaps(means, valid),
        valid=valid,
        counts=counts.astype(np.int16),
        year_start=start.copy(),
    )


def composite_samples(samples: SampleSet, bands: tuple[str, ...] | None = None) -> MonthlyComposite:
    """Monthly composites of a sample set, each row's window starting at its ``start_date`` month.

    The 23 16-day (or 12 32-day) MODIS steps are averaged per month; NaN steps are not clear.
    ``bands`` selects and orders bands (default: all of the file's bands).
    """
    s = samples.select_bands(bands) if bands is not None else samples
    return composite_monthly(s.X, s.dates, s.start_date)


def composite_years(
    values: np.ndarray,
    dates: np.ndarray,
    years: list[int] | tuple[int, ...],
    clear: np.ndarray | None = None,
    start_month: int = 1,
) -> dict[int, MonthlyComposite]:
    """Split a long series ``(N, T, B)`` into one composite per year.

    ``start_month`` 1 gives calendar years; 9 gives crop years Sep->Aug named by the year they end in
    (year 2008 = 2007-09 .. 2008-08). Only observations of each window are read.
    """
    if not 1 <= start_month <= 12:
        raise CompositeError(f"start_month must be 1..12, got {start_month}")
    d = np.asarray(dates).astype("datetime64[D]")
    out: dict[int, MonthlyComposite] = {}
    for year in years:
        first_year = year if start_month == 1 else year - 1
        start = np.datetime64(f"{first_year:04d}-{start_month:02d}", "M")
        end = start + np.timedelta64(STEPS, "M")
        dm = d.astype("datetime64[M]")
        sel = (dm >= start) & (dm < end)
        if sel.ndim != 1:
            raise CompositeError("composite_years needs one date axis (T,) shared by all rows")
        c = clear[:, sel] if clear is not None else None
        out[year] = composite_monthly(values[:, sel], d[sel], start, clear=c)
    return out
