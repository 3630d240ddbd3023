"""The value of reviewing a sample-year: which dynamic labels a reviewer should look at first.

TasGen decides a year's class from two signals: the stage-1 anomaly score against its static class's
threshold (``margin = anomaly_score - threshold``, robust sigmas; > 0 = flagged) and the stage-2
probability of the static class (``p_static``). Each gives a probability that the year changed:
``q1 = sigmoid(margin)`` and ``q2 = 1 - p_static``; their mean ``q`` is the combined belief. The value
of a review (:func:`review_value`) adds, each in [0, 1]:

- *uncertainty* ``1 - |2 q - 1|``: 1 where the combined belief is 50/50, 0 where it is sure;
- *disagreement* ``|q1 - q2|``: the two stages disagree (one says change, the other stable);
- *anomaly* ``q1 * (1 - p_best)`` with ``p_best`` the stage-2 probability of the year's dynamic
  class: unusual for its static class and poorly explained by any class;
- *unknown*: :data:`UNKNOWN_BONUS` for years of the open-set class ``unknown``, so they come first.

:func:`review_order` turns values into a queue; with ``features`` it is *diverse*: each next pick's
value is discounted by its similarity to the years already picked (maximal marginal relevance), so
one batch does not spend ten reviews on ten copies of the same case. A reviewed year gets value
``-inf`` (never queued again).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from ml.errors import TasGenError

UNKNOWN_BONUS: Final[float] = 3.0  # added to the value of ``unknown`` years: above any other value


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -50.0, 50.0))), dtype=np.float64)


def review_value(
    margin: np.ndarray,
    p_static: np.ndarray,
    p_best: np.ndarray | None = None,
    unknown: np.ndarray | None = None,
    reviewed: np.ndarray | None = None,
) -> np.ndarray:
    """(M,) value of reviewing each sample-year (higher first; module docstring for the terms).

    ``margin (M,)`` anomaly score minus its class threshold (robust sigmas; NaN reads as 0);
    ``p_static (M,)`` stage-2 probability of the static class; ``p_best (M,)`` stage-2 probability of
    the year's current class (default ``p_static``); ``unknown (M,)`` bool, open-set years;
    ``reviewed (M,)`` bool, years already answered (value ``-inf``). Values lie in [0, 3] plus
    :data:`UNKNOWN_BONUS` for unknown years.
    """
    margin = np.nan_to_num(np.asarray(margin, dtype=np.float64), nan=0.0)
    p_static = np.clip(np.asarray(p_static, dtype=np.float64), 0.0, 1.0)
    m = len(margin)
    if p_static.shape != (m,):
        raise TasGenError(f"p_static {p_static.shape} does not match margin ({m},)")
    p_best = p_static if p_best is None else np.clip(np.asarray(p_best, dtype=np.float64), 0.0, 1.0)
    for name, arr in (("p_best", p_best), ("unknown", unknown), ("reviewed", reviewed)):
        if arr is not None and np.shape(arr) != (m,):
            raise TasGenError(f"{name} {np.shape(arr)} does not match margin ({m},)")
    q1, q2 = _sigmoid(margin), 1.0 - p_static
    q = 0.5 * (q1 + q2)
    value = (1.0 - np.abs(2.0 * q - 1.0)) + np.abs(q1 - q2) + q1 * (1.0 - p_best)
    if unknown is not None:
        value = value + UNKNOWN_BONUS * np.asarray(unknown, dtype=bool)
    if reviewed is not None:
        value = np.where(np.asarray(reviewed, dtype=bool), -np.inf, value)
    return value


def review_order(
    value: np.ndarray,
    features: np.ndarray | None = None,
    limit: int | None = None,
    diversity: float = 0.5,
) -> np.ndarray:
    """Indices of the sample-years to review, best first (at most ``limit``; never a ``-inf`` value).

    Without ``features (M, F)`` the order is by value (ties: lower index first). With them, greedy
    maximal marginal relevance: the next pick maximizes ``value - diversity * max_similarity`` to the
    picks so far, where similarity is ``exp(-d^2 / median d^2)`` of Euclidean feature distances (1 for
    a copy, ~0 for a far year).
    """
    value = np.asarray(value, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(value))
    n = len(ok) if limit is None else min(limit, len(ok))
    if features is None or diversity <= 0 or n <= 1:
        return ok[np.argsort(-value[ok], kind="stable")][:n]
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) != len(value):
        raise TasGenError(f"features {f.shape} do not match value ({len(value)},)")
    f = f[ok]
    sub = f[np.random.default_rng(0).choice(len(f), min(len(f), 200), replace=False)]
    d2 = ((sub[:, None] - sub[None]) ** 2).sum(-1)
    scale = float(np.median(d2[d2 > 0])) if (d2 > 0).any() else 1.0
    v = value[ok].copy()
    sim = np.zeros(len(ok))
    picks: list[int] = []
    for _ in range(n):
        j = int(np.argmax(np.where(np.isneginf(v), -np.inf, v - diversity * sim)))
        picks.append(j)
        v[j] = -np.inf
        sim = np.maximum(sim, np.exp(-((f - f[j]) ** 2).sum(1) / scale))
    return ok[np.asarray(picks, dtype=np.int64)]
