"""TasGen value objects: the multi-year input series (:class:`SampleSeries`) and the per-year output.

A sample is one labelled location; its series holds one ``(12, D)`` matrix of monthly vectors per year
(ESD codes, ``D = 6``, or reflectance bands). The static label is the class the user says the sample
had in its reference year; TasGen turns it into one class per year (:class:`DynamicSamples`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.errors import CompositeError, TasGenError
from ml.esd.composite import composite_monthly
from ml.samples import SampleSet

MONTHS = 12  # monthly steps per year


@dataclass(frozen=True)
class SampleSeries:
    """Input: ``N`` samples, ``Y`` years, 12 months, ``D`` dimensions per month."""

    values: np.ndarray  # (N, Y, 12, D) float32 monthly vectors; finite where ``valid``, ignored elsewhere
    valid: np.ndarray  # (N, Y) bool: the sample-year has data
    years: tuple[int, ...]  # (Y,) calendar years, increasing
    static_class: np.ndarray  # (N,) str: the class given for the reference year
    reference_year: np.ndarray  # (N,) int: the year the static class is true in; one of ``years``
    dim_names: tuple[str, ...]  # (D,) e.g. ("c0", ..., "c5") for ESD codes or band names

    @property
    def n_samples(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_years(self) -> int:
        return int(self.values.shape[1])

    @property
    def n_dims(self) -> int:
        return int(self.values.shape[3])

    @property
    def reference_index(self) -> np.ndarray:
        """(N,) int: position of each sample's reference year in ``years``."""
        return np.searchsorted(np.asarray(self.years), self.reference_year).astype(np.int64)

    def validate(self, name: str = "series") -> None:
        """Raise :class:`TasGenError` naming ``name`` when shapes, years, classes or values are invalid.

        Rules: ``values`` is (N, Y, 12, D) with N >= 1, Y >= 1, D >= 1; ``valid`` (N, Y); years strictly
        increasing; every reference year is one of ``years`` and valid for its sample; no NaN/inf in a
        valid sample-year; no empty class name.
        """
        v = self.values
        if v.ndim != 4 or v.shape[2] != MONTHS:
            raise TasGenError(f"{name}: values must be (N, Y, 12, D), got shape {v.shape}")
        n, y, _, d = v.shape
        if n == 0 or y == 0 or d == 0:
            raise TasGenError(f"{name}: values has an empty axis, shape {v.shape}")
        if self.valid.shape != (n, y):
            raise TasGenError(f"{name}: valid must be {(n, y)}, got {self.valid.shape}")
        if len(self.years) != y:
            raise TasGenError(f"{name}: {len(self.years)} years for {y} year slots")
        if y > 1 and np.any(np.diff(np.asarray(self.years)) <= 0):
            raise TasGenError(f"{name}: years must be strictly increasing, got {list(self.years)}")
        if len(self.dim_names) != d:
            raise TasGenError(f"{name}: {len(self.dim_names)} dim_names for {d} dimensions")
        if self.static_class.shape != (n,) or self.reference_year.shape != (n,):
            raise TasGenError(f"{name}: static_class and reference_year must be ({n},)")
        if np.any(np.char.str_len(self.static_class.astype(str)) == 0):
            raise TasGenError(f"{name}: empty static class name")
        unknown = ~np.isin(self.reference_year, np.asarray(self.years))
        if np.any(unknown):
            bad = sorted({int(x) for x in self.reference_year[unknown]})
            raise TasGenError(f"{name}: reference years {bad} not in years {list(self.years)}")
        ref_valid = self.valid[np.arange(n), self.reference_index]
        if not np.all(ref_valid):
            raise TasGenError(
                f"{name}: {int((~ref_valid).sum())} samples have no data in their reference year "
                f"(first: sample {int(np.flatnonzero(~ref_valid)[0])})"
            )
        bad_values = ~np.isfinite(v).all(axis=(2, 3)) & self.valid
        if np.any(bad_values):
            i, j = np.argwhere(bad_values)[0]
            raise TasGenError(
                f"{name}: {int(bad_values.sum())} valid sample-years contain NaN or inf "
                f"(first: sample {int(i)}, year {self.years[int(j)]}); mark them invalid or fill them"
            )

    def subset(self, index: np.ndarray) -> SampleSeries:
        """Samples selected by a boolean mask or integer index (all years kept)."""
        return SampleSeries(
            values=self.values[index],
            valid=self.valid[index],
            years=self.years,
            static_class=self.static_class[index],
            reference_year=self.reference_year[index],
            dim_names=self.dim_names,
        )


@dataclass(frozen=True)
class DynamicSamples:
    """Output per sample-year; entries of invalid sample-years are ``""`` / False / NaN / 0."""

    years: tuple[int, ...]  # (Y,) as in the input
    klass: np.ndarray  # (N, Y) str: class of the sample in that year ("" where no data)
    changed: np.ndarray  # (N, Y) bool: the class differs from the static class (anomalous and relabelled)
    anomaly_score: (
        np.ndarray
    )  # (N, Y) float robust sigmas: z(neg. ELBO, static class) + z(latent drift); higher = less normal
    threshold: np.ndarray  # (N,) float: the anomaly threshold of each sample's static class
    confidence: np.ndarray  # (N, Y) float in [0, 1]: stage-2 classifier probability of ``klass``
    attribution_month: np.ndarray  # (N, Y, 12) float, sums to 1 on attributed changed years, else 0
    attribution_dim: np.ndarray  # (N, Y, D) float, sums to 1 on attributed changed years, else 0
    change_years: list[list[int]]  # per sample: years whose class differs from the previous valid year's
    p_static: np.ndarray  # (N, Y) float: stage-2 probability of the static class (NaN where no data)
    unknown: np.ndarray  # (N, Y) bool: open-set years (class ``unknown``: unlike every class)

    def review_value(self, reviewed: np.ndarray | None = None) -> np.ndarray:
        """(N, Y) value of reviewing each sample-year (``ml.tasgen.review.review_value``; -inf where no data)."""
        from ml.tasgen.review import review_value

        v = self.klass != ""
        out = np.full(v.shape, -np.inf)
        rows = np.argwhere(v)[:, 0]
        margin = self.anomaly_score[v] - self.threshold[rows]
        p_best = np.where(self.changed[v], self.confidence[v], self.p_static[v])
        out[v] = review_value(
            margin,
            self.p_static[v],
            p_best=p_best,
            unknown=self.unknown[v],
            reviewed=None if reviewed is None else reviewed[v],
        )
        return out

    def to_rows(self, static_class: np.ndarray, dim_names: tuple[str, ...]) -> list[dict[str, object]]:
        """One flat dict per valid sample-year (for CSV export): sample, year, class, scores, attribution."""
        rows: list[dict[str, object]] = []
        n, y = self.klass.shape
        for i in range(n):
            for j in range(y):
                if self.klass[i, j] == "":
                    continue
                row: dict[str, object] = {
                    "sample": i,
                    "year": self.years[j],
                    "static_class": str(static_class[i]),
                    "class": str(self.klass[i, j]),
                    "changed": bool(self.changed[i, j]),
                    "anomaly_score": round(float(self.anomaly_score[i, j]), 4),
                    "threshold": round(float(self.threshold[i]), 4),
                    "confidence": round(float(self.confidence[i, j]), 4),
                    "change_year": self.years[j] in self.change_years[i],
                    "p_static": round(float(self.p_static[i, j]), 4),
                    "unknown": bool(self.unknown[i, j]),
                }
                for m in range(MONTHS):
                    row[f"attr_m{m + 1:02d}"] = round(float(self.attribution_month[i, j, m]), 4)
                for k, dname in enumerate(dim_names):
                    row[f"attr_{dname}"] = round(float(self.attribution_dim[i, j, k]), 4)
                rows.append(row)
        return rows


def monthly_means(X: np.ndarray, dates: np.ndarray, start_date: np.ndarray) -> np.ndarray:
    """(N, 12, B): mean of the steps of ``X (N, T, B)`` falling in each month of each row's year window.

    Month ``m`` of a row is the ``m``-th calendar month from the month of its ``start_date`` (so a
    Sep->Aug crop year gives Sep, Oct, ..., Aug); steps after the 12th month are ignored; months
    without a step are filled by linear interpolation in time (``ml.esd.composite.composite_monthly``,
    the project's compositing rule). Raises :class:`TasGenError` when a row has no finite step.
    """
    try:
        comp = composite_monthly(X, dates, start_date)
    except CompositeError as exc:
        raise TasGenError(f"cannot composite the series into months: {exc}") from exc
    empty = ~comp.has_data
    if np.any(empty):
        raise TasGenError(
            f"{int(empty.sum())} rows have no finite step (first: row {int(np.flatnonzero(empty)[0])})"
        )
    return comp.values.astype(np.float32)


@dataclass(frozen=True)
class LocatedSeries:
    """A :class:`SampleSeries` built from a sample file, with the coordinates of each sample."""

    series: SampleSeries  # one sample per distinct location
    lon: np.ndarray  # (N,) float64 degrees WGS84
    lat: np.ndarray  # (N,) float64 degrees WGS84


def series_from_samples(samples: SampleSet, reference: str = "first") -> LocatedSeries:
    """One sample per location of ``samples``, one year slot per distinct row year (monthly means).

    The static class of a location is the label of its row in the reference year: its ``first`` (or
    ``last``) year with data. Labels of its other years are ignored (they are what TasGen infers).
    """
    if reference not in ("first", "last"):
        raise TasGenError(f"reference must be 'first' or 'last', got {reference!r}")
    if len(samples) == 0:
        raise TasGenError("sample set is empty")
    monthly = monthly_means(samples.X, samples.dates, samples.start_date)
    loc = samples.location_ids()
    row_year = samples.year
    years = tuple(int(y) for y in np.unique(row_year))
    yi = np.searchsorted(np.asarray(years), row_year)
    uniq = np.unique(loc)
    n, b = len(uniq), monthly.shape[2]
    values = np.zeros((n, len(years), MONTHS, b), dtype=np.float32)
    valid = np.zeros((n, len(years)), dtype=bool)
    pos = np.searchsorted(uniq, loc)
    values[pos, yi] = monthly
    valid[pos, yi] = True
    ref_idx = np.array([np.flatnonzero(r)[0 if reference == "first" else -1] for r in valid])
    static = np.empty(n, dtype=object)
    static[pos[yi == ref_idx[pos]]] = samples.label[yi == ref_idx[pos]]
    lon = np.zeros(n)
    lat = np.zeros(n)
    lon[pos], lat[pos] = samples.lon, samples.lat
    ref_year = np.asarray(years)[ref_idx].astype(np.int64)
    series = SampleSeries(values, valid, years, static.astype(str), ref_year, samples.bands)
    return LocatedSeries(series=series, lon=lon, lat=lat)
