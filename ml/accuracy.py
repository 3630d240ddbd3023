"""How far a land-cover map can be trusted: area-adjusted accuracy from a validation sample, and
agreement with the user's own labels by spatially grouped cross-validation.

Two different figures, never to be mixed up:

* :func:`area_adjusted_accuracy` is the *good-practice estimate* of Olofsson et al. (2014), "Good
  practices for estimating area and assessing accuracy of land change", Remote Sensing of Environment
  148, 42-57 (eqs. 2-10), as R sits' ``sits_accuracy`` applies it to a classified map: an error matrix
  of sample counts (rows = map class, columns = reference class) and the mapped area of each class
  give overall, user's and producer's accuracy and error-adjusted class areas, each with a 95%
  confidence interval. The sample is treated as a stratified random sample with the map classes as
  strata (simple random sampling is the special case of proportional allocation). It is only an
  unbiased estimate when the validation labels were not used to train the map.
* :func:`grouped_reference_agreement` measures how often the map classifier, trained on the dynamic
  samples of *other* places, gives the class the user wrote on a label for that label's reference
  year. Places are grouped into square spatial blocks and whole blocks are held out per fold, so
  neighbouring (autocorrelated) pixels never sit on both sides of a split. It is agreement with the
  training labels' own reference years, not an area-weighted map accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import rasterio
from rasterio.warp import transform as warp_transform
from sklearn.model_selection import GroupKFold

from ml.errors import ProductError, SamplesError
from ml.mapping import NODATA_CLASS, MapperConfig, fit_mapper

Z95: Final[float] = 1.96  # normal quantile of the 95% intervals (the value Olofsson et al. 2014 use)
DEFAULT_BLOCK_M: Final[float] = 2000.0  # side of the square spatial blocks of the grouped CV (metres)


@dataclass(frozen=True)
class Estimate:
    """A point estimate and the half-width of its 95% confidence interval (NaN when not estimable)."""

    value: float
    ci95: float

    @property
    def low(self) -> float:
        return self.value - self.ci95

    @property
    def high(self) -> float:
        return self.value + self.ci95

    def as_dict(self, digits: int = 4) -> dict[str, float | None]:
        return {"value": _num(self.value, digits), "ci95": _num(self.ci95, digits)}


@dataclass(frozen=True)
class AreaAdjustedAccuracy:
    """Olofsson et al. (2014) estimates from one error matrix and the mapped areas of one map.

    ``area`` is in the unit of the ``mapped_area`` given (hectares in this project). User's accuracy of
    a class without validation samples and producer's accuracy of a class with no estimated area are
    NaN. Map classes with fewer than 2 validation samples are left out of the estimates (a stratum needs
    two for a variance): ``coverage`` is the share of the mapped area the estimates describe and
    ``warnings`` names the classes left out.
    """

    classes: tuple[str, ...]
    error_matrix: np.ndarray  # (k, k) sample counts n_ij, rows map class i, columns reference class j
    mapped_area: np.ndarray  # (k,) area mapped as each class, A_m,i
    proportions: np.ndarray  # (k, k) estimated area proportions p_ij (eq. 4), summing to 1
    overall: Estimate  # overall accuracy O (eq. 1 on p_ij) and its interval (eq. 5)
    users: tuple[Estimate, ...]  # user's accuracy U_i (eq. 2) per map class, interval (eq. 6)
    producers: tuple[Estimate, ...]  # producer's accuracy P_j (eq. 3) per reference class (eq. 7)
    area: tuple[Estimate, ...]  # error-adjusted area A_j = A_tot * p_.j (eq. 9), interval (eqs. 10-11)
    coverage: float = 1.0  # share of the mapped area the estimates describe (strata with >= 2 samples)
    warnings: tuple[str, ...] = ()

    @property
    def n_samples(self) -> int:
        return int(self.error_matrix.sum())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: per-class rows keyed by class name, NaN as None, areas to 0.01."""
        return {
            "method": "olofsson2014",
            "n_samples": self.n_samples,
            "coverage": round(self.coverage, 4),
            "classes": list(self.classes),
            "error_matrix": self.error_matrix.astype(int).tolist(),
            "overall": self.overall.as_dict(),
            "per_class": [
                {
                    "class": c,
                    "n_map": int(self.error_matrix[i].sum()),
                    "left_out": bool(self.mapped_area[i] > 0 and self.error_matrix[i].sum() < 2),
                    "mapped_area": _num(float(self.mapped_area[i]), 2),
                    "users": self.users[i].as_dict(),
                    "producers": self.producers[i].as_dict(),
                    "area": self.area[i].as_dict(2),
                }
                for i, c in enumerate(self.classes)
            ],
            "warnings": list(self.warnings),
        }


def area_adjusted_accuracy(
    error_matrix: np.ndarray, mapped_area: np.ndarray, classes: list[str] | tuple[str, ...], z: float = Z95
) -> AreaAdjustedAccuracy:
    """Accuracy and error-adjusted areas of a map from a stratified validation sample.

    ``error_matrix (k, k)``: validation counts, rows = class on the map, columns = class in the
    reference (the validation label); ``mapped_area (k,)``: area of each class on the map (any unit;
    the estimated areas come back in it). Equations of Olofsson et al. (2014), section 4.

    Every stratum needs two samples for a variance. A mapped class with fewer is left out: the
    estimates then describe the rest of the map (``coverage`` < 1, named in ``warnings``), rather than
    silently counting the left-out area as correct, as wrong, or without an interval.
    """
    n_all = np.asarray(error_matrix, dtype=np.float64)
    area_all = np.asarray(mapped_area, dtype=np.float64)
    k = len(classes)
    if n_all.shape != (k, k) or area_all.shape != (k,):
        raise SamplesError(
            f"error matrix {n_all.shape} and mapped areas {area_all.shape} do not fit {k} classes"
        )
    if (n_all < 0).any() or (area_all < 0).any() or not np.isfinite(area_all).all():
        raise SamplesError("sample counts and mapped areas must be finite and non-negative")
    n_i = n_all.sum(axis=1)  # n_i., samples per map class (stratum)
    used = (n_i >= 2) & (area_all > 0)
    if not used.any():
        raise SamplesError("need at least 2 validation labels on one mapped class to estimate accuracy")
    left_out = [classes[i] for i in range(k) if area_all[i] > 0 and not used[i]]
    area_m = np.where(used, area_all, 0.0)
    n = np.where(used[:, None], n_all, 0.0)
    total = float(area_m.sum())
    coverage = total / float(area_all.sum())
    warnings: list[str] = []
    if left_out:
        warnings.append(
            "mapped classes with fewer than 2 validation labels are left out, so the estimates cover "
            f"{coverage:.0%} of the mapped area: {', '.join(left_out)}"
        )
    w = area_m / total  # W_i, share of the (covered) map in class i
    n_i = np.where(used, n_i, 0.0)
    var_div = np.where(used, n_i - 1, np.inf)  # n_i. - 1; strata left out add nothing
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(used[:, None], n / np.where(used, n_i, 1.0)[:, None], 0.0)  # n_ij / n_i.
        p = w[:, None] * frac  # p_ij (eq. 4)
        p_i, p_j, diag = p.sum(axis=1), p.sum(axis=0), np.diag(p)
        users_v = np.where(p_i > 0, diag / p_i, np.nan)  # U_i (eq. 2)
        prod_v = np.where(p_j > 0, diag / p_j, np.nan)  # P_j (eq. 3)
        u0 = np.nan_to_num(users_v)
        # eq. 5: V(O) = sum_i W_i^2 U_i (1 - U_i) / (n_i. - 1)
        var_o = float((w**2 * u0 * (1 - u0) / var_div).sum())
        # eq. 6: V(U_i) = U_i (1 - U_i) / (n_i. - 1)
        var_u = users_v * (1 - users_v) / var_div
        # eq. 7, with N_i. = mapped area (its scale cancels): N_.j = sum_i N_i. n_ij / n_i.
        n_hat_j = (area_m[:, None] * frac).sum(axis=0)
        cell = area_m[:, None] ** 2 * frac * (1 - frac) / var_div[:, None]  # (i, j) terms of the sum
        others = cell.sum(axis=0) - np.diag(cell)
        own = area_m**2 * (1 - prod_v) ** 2 * u0 * (1 - u0) / var_div
        var_p = np.where(n_hat_j > 0, (own + prod_v**2 * others) / n_hat_j**2, np.nan)
        # eq. 10: S(p_.j) = sqrt(sum_i (W_i p_ij - p_ij^2) / (n_i. - 1)); eq. 11: S(A_j) = A_tot S(p_.j)
        var_pj = ((w[:, None] * p - p**2) / var_div[:, None]).sum(axis=0)
    se_area = total * np.sqrt(np.maximum(var_pj, 0.0))
    return AreaAdjustedAccuracy(
        classes=tuple(classes),
        error_matrix=n_all.astype(np.int64),
        mapped_area=area_all,
        proportions=p,
        overall=Estimate(float(diag.sum()), z * float(np.sqrt(var_o))),
        users=tuple(Estimate(float(users_v[i]), z * float(np.sqrt(var_u[i]))) for i in range(k)),
        producers=tuple(Estimate(float(prod_v[j]), z * float(np.sqrt(var_p[j]))) for j in range(k)),
        area=tuple(Estimate(float(total * p_j[j]), z * float(se_area[j])) for j in range(k)),
        coverage=coverage,
        warnings=tuple(warnings),
    )


def error_matrix(mapped: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` counts of (map class, reference class) pairs; entries outside ``0..k-1`` are ignored."""
    mapped = np.asarray(mapped, dtype=np.int64)
    reference = np.asarray(reference, dtype=np.int64)
    ok = (mapped >= 0) & (mapped < k) & (reference >= 0) & (reference < k)
    out = np.zeros((k, k), dtype=np.int64)
    np.add.at(out, (mapped[ok], reference[ok]), 1)
    return out


def classes_at_points(path: str | Path, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Class value of a class-map GeoTIFF at each WGS84 point: ``(n,)`` int64, -1 outside or no data."""
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    out = np.full(lon.shape, -1, dtype=np.int64)
    if lon.size == 0:
        return out
    try:
        with rasterio.open(path) as src:
            xs, ys = warp_transform("EPSG:4326", src.crs, lon.tolist(), lat.tolist())
            rows, cols = rasterio.transform.rowcol(src.transform, xs, ys)
            band = src.read(1)
    except rasterio.errors.RasterioIOError as exc:
        raise ProductError(f"{path}: cannot read the class map ({exc})") from exc
    rows, cols = np.asarray(rows), np.asarray(cols)
    inside = (rows >= 0) & (rows < band.shape[0]) & (cols >= 0) & (cols < band.shape[1])
    values = band[rows[inside], cols[inside]].astype(np.int64)
    out[inside] = np.where(values == NODATA_CLASS, -1, values)
    return out


def spatial_blocks(x: np.ndarray, y: np.ndarray, block_size: float = DEFAULT_BLOCK_M) -> np.ndarray:
    """Id of the square block (side ``block_size``, in the unit of the projected ``x``/``y``) of each point."""
    if block_size <= 0:
        raise SamplesError("the block size must be positive")
    bx = np.floor(np.asarray(x, dtype=np.float64) / block_size).astype(np.int64)
    by = np.floor(np.asarray(y, dtype=np.float64) / block_size).astype(np.int64)
    _, ids = np.unique(np.stack([bx, by], axis=1), axis=0, return_inverse=True)
    return ids.reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class Agreement:
    """Agreement of the map classifier with the user's labels at their reference years (grouped CV).

    Counts, not area-weighted: ``users``/``producers`` are the shares of the sample (NaN where a class
    was never predicted / never labelled). ``confusion`` rows are the predicted (map) class and columns
    the label's class, like an error matrix.
    """

    classes: tuple[str, ...]
    confusion: np.ndarray  # (k, k) counts, rows predicted class, columns the label's class
    folds: int  # folds actually used (at most the number of blocks)
    blocks: int  # spatial blocks holding the labels
    block_size: float  # side of a block in the grid's CRS unit (metres for projected grids)
    labels: int  # distinct labels whose reference year was tested
    per_year: dict[int, float] = field(default_factory=dict)  # agreement per reference year

    @property
    def n_samples(self) -> int:
        return int(self.confusion.sum())

    @property
    def oa(self) -> float:
        return float(np.trace(self.confusion) / max(1, self.confusion.sum()))

    @property
    def kappa(self) -> float:
        n = self.confusion.sum()
        if n == 0:
            return float("nan")
        pe = float((self.confusion.sum(axis=0) * self.confusion.sum(axis=1)).sum()) / n**2
        return 1.0 if pe >= 1 else (self.oa - pe) / (1 - pe)

    def as_dict(self) -> dict[str, Any]:
        c = self.confusion.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            users = np.diag(c) / c.sum(axis=1)
            producers = np.diag(c) / c.sum(axis=0)
            f1 = 2 * users * producers / (users + producers)
        present = c.sum(axis=0) > 0
        return {
            "method": "reference_grouped_cv",
            "oa": _num(self.oa, 4),
            "kappa": _num(self.kappa, 4),
            "users": {n: _num(float(users[i]), 4) for i, n in enumerate(self.classes) if c[i].sum() > 0},
            "producers": {n: _num(float(producers[i]), 4) for i, n in enumerate(self.classes) if present[i]},
            "f1": {n: _num(float(np.nan_to_num(f1[i])), 4) for i, n in enumerate(self.classes) if present[i]},
            "confusion": self.confusion.astype(int).tolist(),
            "classes": list(self.classes),
            "n_samples": self.n_samples,
            "labels": self.labels,
            "folds": self.folds,
            "blocks": self.blocks,
            "block_size": self.block_size,
            "per_year_oa": {str(k): round(v, 4) for k, v in self.per_year.items()},
        }


def grouped_reference_agreement(
    features: np.ndarray,
    dynamic: np.ndarray,
    reference: np.ndarray,
    reference_index: np.ndarray,
    blocks: np.ndarray,
    class_names: list[str],
    *,
    years: np.ndarray | None = None,
    label_ids: np.ndarray | None = None,
    block_size: float = DEFAULT_BLOCK_M,
    folds: int = 5,
    config: MapperConfig | None = None,
) -> Agreement:
    """Spatially grouped k-fold agreement of the mapper with each label's class at its reference year.

    ``features (S, Y, F)``: features of each label pixel ``S`` and year ``Y``; ``dynamic (S, Y)``: the
    dynamic-sample class index used for training (-1 where none); ``reference (S,)``: the class the
    user gave the label (-1 when it cannot be tested: unknown class or no data in its reference year);
    ``reference_index (S,)``: index of the reference year in ``Y``; ``blocks (S,)``: spatial block of
    each pixel (all pixels of one label must share a block). Per fold the mapper is trained on every
    dynamic sample (all years) outside the held-out blocks and predicts the held-out reference years.
    """
    s, y_n = dynamic.shape
    if features.shape[:2] != (s, y_n) or reference.shape != (s,) or blocks.shape != (s,):
        raise SamplesError("features, dynamic classes, reference classes and blocks do not match")
    k = len(class_names)
    testable = reference >= 0
    if not testable.any():
        raise SamplesError("no label has data in its reference year: nothing to compare the map with")
    unique_blocks = np.unique(blocks)
    n_folds = min(folds, unique_blocks.size)
    if n_folds < 2:
        raise SamplesError(
            "all labels lie in one spatial block: spread labels over a larger area to cross-validate"
        )
    pred = np.full(s, -1, dtype=np.int64)
    block_fold = np.empty(unique_blocks.size, dtype=np.int64)
    for f, (_, test) in enumerate(GroupKFold(n_splits=n_folds).split(unique_blocks, groups=unique_blocks)):
        block_fold[test] = f
    fold_of = block_fold[np.searchsorted(unique_blocks, blocks)]
    rows = np.arange(s)
    for f in range(n_folds):
        held = fold_of == f
        train = ~held[:, None] & (dynamic >= 0)  # (S, Y)
        test = held & testable
        if not test.any():
            continue
        y_train = dynamic[train]
        if y_train.size == 0:
            continue
        x_test = features[rows[test], reference_index[test]]
        if np.unique(y_train).size < 2:
            pred[test] = y_train[0]
            continue
        pred[test] = fit_mapper(features[train], y_train, config).predict(x_test)
    done = testable & (pred >= 0)
    confusion = error_matrix(pred[done], reference[done], k)
    per_year: dict[int, float] = {}
    if years is not None:
        ref_years = np.asarray(years)[reference_index]
        for yr in np.unique(ref_years[done]):
            m = done & (ref_years == yr)
            per_year[int(yr)] = float((pred[m] == reference[m]).mean())
    n_labels = int(np.unique(label_ids[done]).size) if label_ids is not None else int(done.sum())
    return Agreement(
        classes=tuple(class_names),
        confusion=confusion,
        folds=n_folds,
        blocks=int(np.unique(blocks[testable]).size),
        block_size=float(block_size),
        labels=n_labels,
        per_year=per_year,
    )


def _num(v: float, digits: int) -> float | None:
    return None if not np.isfinite(v) else round(float(v), digits)
