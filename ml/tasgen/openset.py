"""Open-set change: a sample-year unlike its static class and unlike every class becomes ``unknown``.

A static label set names the classes a user knew in one year; the land can change to a class it does
not contain (Mato Grosso: every real change of the dtwSat points is to Soybean-maize, absent from the
2011-12 labels). Forcing such a year into the nearest known class hides the new class; leaving it
unflagged hides the change. The open-set rule gives it the dynamic class :data:`UNKNOWN` instead:
changed, and first in the review queue, where a reviewer can name the new class.

Novelty of a year under a class ``c`` (:func:`class_novelty`): the mean distance from its feature row
to its ``k`` nearest rows among the reference rows of ``c``, in robust sigmas of the same distance
for the reference rows of ``c`` themselves (leave-one-out): ``(d - median_c) / (1.4826 * MAD_c)``.
A year is *unknown* (:func:`is_unknown`) when its novelty exceeds ``threshold`` under its static
class and under every other class of the label set. A year that the two stages already *change* is
unknown as well when it is unlike the class it would move to (:func:`unlike_target`: novelty under
that class above ``target_threshold``): the change is real, the new class is not one the label set
knows. Only changed years are concerned, so this second rule never adds a change (a stable year's
year-to-year variation cannot make it ``unknown``); it decides how a change is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from ml.errors import TasGenError
from ml.tasgen.detect import MAD_TO_SIGMA

UNKNOWN: Final[str] = "unknown"  # dynamic class of a year unlike every class of the label set
DEFAULT_NOVELTY_THRESHOLD: Final[float] = 12.0  # robust sigmas (see docs/tasgen.md, open-set rule)
DEFAULT_TARGET_THRESHOLD: Final[float] = 4.0  # robust sigmas, novelty under a changed year's new class


@dataclass(frozen=True)
class ClassReference:
    """The reference rows of each class, as :func:`class_novelty` measures distances to them."""

    rows: tuple[np.ndarray, ...]  # per class c: (M_c, F) feature rows (empty (0, F) when absent)
    median: np.ndarray  # (C,) median leave-one-out k-NN distance of the class's own rows
    sigma: np.ndarray  # (C,) 1.4826 * MAD of those distances (floored at 1e-6; inf: fewer than 3 rows)
    k: np.ndarray  # (C,) int neighbours averaged per class: min(k, M_c - 2)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays: the rows of all classes stacked (``rows``) with each class's ``counts``."""
        return {
            "rows": np.concatenate(self.rows),
            "counts": np.asarray([len(r) for r in self.rows], dtype=np.int64),
            "median": self.median,
            "sigma": self.sigma,
            "k": self.k,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ClassReference:
        ends = np.cumsum(arrays["counts"])
        rows = tuple(arrays["rows"][e - n : e] for e, n in zip(ends, arrays["counts"], strict=True))
        return cls(rows=rows, median=arrays["median"], sigma=arrays["sigma"], k=arrays["k"])


def _nearest(rows: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """(M, min(k, len(rows))) sorted distances from each row of ``x`` to its nearest ``rows`` (exact)."""
    rows64 = rows.astype(np.float64)
    rr = (rows64**2).sum(1)
    kk = min(k, len(rows))
    out = np.empty((len(x), kk))
    for s in range(0, len(x), 512):
        xs = x[s : s + 512].astype(np.float64)
        d2 = np.maximum((xs**2).sum(1)[:, None] + rr[None, :] - 2 * xs @ rows64.T, 0.0)
        if kk < d2.shape[1]:  # the kk smallest first (O(M)), then sort only those: same values
            d2 = np.partition(d2, kk - 1, axis=1)[:, :kk]
        out[s : s + 512] = np.sort(np.sqrt(d2), axis=1)[:, :kk]
    return out


def _knn_mean(rows: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """(M,) mean distance to the ``k`` nearest ``rows``, leaving out a row's own copy (distance 0)."""
    d = _nearest(rows, x, k + 1)
    self_hit = d[:, 0] < 1e-9
    return np.asarray(np.where(self_hit, d[:, 1 : k + 1].mean(1), d[:, :k].mean(1)), dtype=np.float64)


def fit_class_reference(
    features: np.ndarray, labels: np.ndarray, n_classes: int, k: int = 5
) -> ClassReference:
    """Reference rows per class from ``features (M, F)`` with class indices ``labels (M,)`` in 0..C-1.

    Repeated rows count once. A class with fewer than ``k + 2`` distinct rows averages ``M_c - 2`` neighbours; one with fewer than 3 rows
    cannot be calibrated: every row reads as infinitely novel under it. Raises :class:`TasGenError` on mismatched shapes or ``k < 1``.
    """
    if features.ndim != 2 or labels.shape != (len(features),):
        raise TasGenError(f"features {features.shape} and labels {labels.shape} do not match")
    if k < 1:
        raise TasGenError(f"k must be >= 1, got {k}")
    rows, med, sig = [], np.zeros(n_classes), np.full(n_classes, np.inf)
    ks = np.zeros(n_classes, dtype=np.int64)
    for c in range(n_classes):
        # one copy of each distinct row: a row repeated (the same real year used by several samples)
        # would be its own nearest neighbour at distance 0 and collapse the class's spread
        r = np.unique(features[labels == c].astype(np.float32), axis=0)
        rows.append(r)
        if len(r) < 3:
            continue
        ks[c] = min(k, len(r) - 2)
        d = _knn_mean(r, r, int(ks[c]))
        med[c] = float(np.median(d))
        sig[c] = max(MAD_TO_SIGMA * float(np.median(np.abs(d - med[c]))), 1e-6)
    return ClassReference(tuple(rows), med, sig, ks)


def class_novelty(reference: ClassReference, features: np.ndarray) -> np.ndarray:
    """(M, C) novelty of each row under each class, robust sigmas (higher = less like the class).

    Rows identical to a reference row are measured without themselves (leave-one-out), so a fit
    series scored by its own reference reads as a held-out one would.
    """
    out = np.full((len(features), len(reference.rows)), np.inf)
    for c, r in enumerate(reference.rows):
        if not np.isfinite(reference.sigma[c]):
            continue
        d = _knn_mean(r, features, int(reference.k[c]))
        out[:, c] = (d - reference.median[c]) / reference.sigma[c]
    return out


def is_unknown(
    novelty: np.ndarray, static_index: np.ndarray, threshold: float = DEFAULT_NOVELTY_THRESHOLD
) -> np.ndarray:
    """(M,) bool: unlike the static class *and* every class of the label set (all novelties > ``threshold``).

    ``novelty (M, C)`` from :func:`class_novelty`; ``static_index (M,)`` the static class of each row
    (its novelty must exceed the threshold as well; it is one of the C columns).
    """
    if novelty.ndim != 2 or static_index.shape != (len(novelty),):
        raise TasGenError(f"novelty {novelty.shape} and static_index {static_index.shape} do not match")
    unlike_static = novelty[np.arange(len(novelty)), static_index] > threshold
    return np.asarray(unlike_static & (novelty.min(axis=1) > threshold), dtype=bool)


def unlike_target(
    novelty: np.ndarray,
    target_index: np.ndarray,
    moved: np.ndarray,
    threshold: float = DEFAULT_TARGET_THRESHOLD,
) -> np.ndarray:
    """(M,) bool: changed rows (``moved (M,)``) unlike the class they move to (novelty > ``threshold``).

    ``novelty (M, C)`` from :func:`class_novelty`; ``target_index (M,)`` the class a changed row takes
    (ignored where not ``moved``). A target class whose novelty cannot be measured (fewer than 3
    reference rows: infinite novelty) never makes a row unknown: too few rows to say it is unlike it.
    """
    if novelty.ndim != 2 or target_index.shape != (len(novelty),) or moved.shape != (len(novelty),):
        raise TasGenError(
            f"novelty {novelty.shape}, target_index {target_index.shape} and moved {moved.shape} do not match"
        )
    rows = np.arange(len(novelty))
    nov = novelty[rows, np.clip(target_index, 0, novelty.shape[1] - 1)]
    return np.asarray(moved & np.isfinite(nov) & (nov > threshold), dtype=bool)
