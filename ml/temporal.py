"""Temporally consistent class maps: an HMM over each pixel's yearly class probabilities (pure numpy).

Each year of a dynamic land-cover map is classified on its own, so a pixel's labels flicker from year
to year. Here a pixel's years are the hidden states of a first-order hidden Markov model
(Rabiner 1989, "A tutorial on hidden Markov models", Proc. IEEE 77(2)):

* the **transition matrix** ``A[i, j] = P(class j in year t+1 | class i in year t)`` is estimated from
  the dynamic samples (the per-year classes TasGen gave the label pixels), mixed with a prior whose
  odds of moving to any one other class against staying are ``switch_odds``
  (:func:`estimate_transitions`);
* the **emissions** are the classifier's per-year class probabilities, floored at ``floor`` so that
  one confident but wrong year cannot veto a class (a log of 0 would);
* :func:`viterbi` picks the most probable class sequence of every pixel; :func:`posterior` (the
  forward-backward algorithm) gives each year's marginal class probabilities, whose normalised
  entropy is the uncertainty layer (:func:`entropy`).

A one-year blip costs two unlikely transitions, so it is removed unless that year's evidence outweighs
them; a lasting change costs one transition and is paid for by every year after it, so it is kept
and dated to its first year. Everything is vectorised over pixels (the loop is over years only).

Conventions: probabilities are ``(Y, C, N)`` float (years, classes, pixels); ``valid (Y, N)`` bool
marks the observed pixel-years (an unobserved year emits nothing: the chain passes through it and its
class is :data:`NODATA_CLASS`). Class indices are ``0 .. C - 1``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from ml.errors import ProductError
from ml.smoothing import SmoothingConfig, bayes_smooth

NODATA_CLASS: Final[int] = 255  # class index of unobserved pixel-years in every class map
CHUNK: Final[int] = 16384  # pixels decoded at once (bounds the (Y, C, chunk) float32 temporaries)


@dataclass(frozen=True)
class TemporalConfig:
    """Settings of the temporal step (the analysis parameters' ``temporal`` object)."""

    enabled: bool = True  # run the HMM; False keeps each year's own most probable class
    # defaults chosen on the Mato Grosso demo without labels (bench/bench_temporal.py, docs/benchmarks/temporal.md)
    switch_odds: float = (
        0.5  # prior P(class i -> one other class j) / P(i -> i), the same for any number of classes
    )
    # weight of the prior against the dynamic samples' transition frequencies (1 = the prior alone);
    # high since TasGen's anchored stage 2, whose samples switch crop class in 30-50% of the years
    prior_share: float = 0.8
    floor: float = 0.01  # emission floor: class probabilities below it count as this much
    # calibration of the emissions: p ** (1 / temperature), renormalised; > 1 flattens over-confident
    # classifier probabilities so that the transitions weigh more (1 = as the classifier gives them)
    temperature: float = 2.0
    # dynamic-sample years TasGen is less confident about than this do not count in the transition
    # frequencies (a pair of years counts when both reach it; 0 = every sample-year counts)
    min_confidence: float = 0.0


def _check_probs(probs: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs)
    if p.ndim != 3:
        raise ProductError(f"probabilities must have shape (Y, C, N), got {p.shape}")
    n_years, n_classes, n = p.shape
    if n_classes < 1 or n_classes >= NODATA_CLASS:
        raise ProductError(f"need 1..{NODATA_CLASS - 1} classes, got {n_classes}")
    v = np.ones((n_years, n), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if v.shape != (n_years, n):
        raise ProductError(f"valid must have shape {(n_years, n)}, got {v.shape}")
    return p, v


def estimate_transitions(
    series: np.ndarray,
    n_classes: int,
    switch_odds: float = 0.5,
    prior_share: float = 0.6,
    confidence: np.ndarray | None = None,
    min_confidence: float = 0.0,
) -> np.ndarray:
    """Row-stochastic ``(C, C)`` transition matrix: the samples' transition frequencies mixed with a prior.

    ``series``: ``(S, Y)`` integer class indices of S sample series (e.g. TasGen's dynamic samples),
    negative or ``>= n_classes`` where a year is unknown; only pairs of consecutive known years count.
    ``A = (1 - prior_share) * F + prior_share * P``: ``F`` holds each class's observed next-year
    frequencies (a class never seen before a known year uses ``P``); ``P[i, j] / P[i, i]`` is
    ``switch_odds`` for every other class ``j`` (so ``P[i, i] = 1 / (1 + (C - 1) * switch_odds)``): the
    price of one change in the prior is ``log(1 / switch_odds)`` whatever the number of classes. A
    mixture rather than pseudo-counts, so the strength of the prior does not fade as the label set
    grows, and no transition is impossible while ``prior_share > 0`` and ``switch_odds > 0``.
    ``confidence``: optional ``(S, Y)`` confidence of each sample-year (TasGen's); a pair of years
    counts only when both reach ``min_confidence`` (NaN never does), so that the classes TasGen is
    unsure of do not pass for the land's dynamics.
    ``A[i, j]``: probability of class ``j`` the year after class ``i``.
    """
    if not 0.0 <= switch_odds <= 1.0:
        raise ProductError(f"switch_odds must lie in [0, 1], got {switch_odds}")
    if not 0.0 <= prior_share <= 1.0:
        raise ProductError(f"prior_share must lie in [0, 1], got {prior_share}")
    if n_classes < 1:
        raise ProductError(f"n_classes must be positive, got {n_classes}")
    s = np.asarray(series)
    if s.ndim != 2:
        raise ProductError(f"series must have shape (S, Y), got {s.shape}")
    if n_classes == 1:
        return np.ones((1, 1))
    stay = 1.0 / (1.0 + (n_classes - 1) * switch_odds)
    prior = np.full((n_classes, n_classes), switch_odds * stay)
    np.fill_diagonal(prior, stay)
    counts = np.zeros((n_classes, n_classes), dtype=np.float64)
    if s.shape[1] >= 2 and s.size:
        a, b = s[:, :-1].ravel(), s[:, 1:].ravel()
        ok = (a >= 0) & (a < n_classes) & (b >= 0) & (b < n_classes)
        if confidence is not None and min_confidence > 0:
            conf = np.nan_to_num(np.asarray(confidence, dtype=np.float64), nan=-np.inf)
            if conf.shape != s.shape:
                raise ProductError(f"confidence must have the shape of series {s.shape}, got {conf.shape}")
            ok &= (np.minimum(conf[:, :-1], conf[:, 1:]) >= min_confidence).ravel()
        np.add.at(counts, (a[ok].astype(np.int64), b[ok].astype(np.int64)), 1.0)
    rows = counts.sum(axis=1, keepdims=True)
    freq = np.where(rows > 0, counts / np.where(rows > 0, rows, 1.0), prior)
    return (1.0 - prior_share) * freq + prior_share * prior


def temper(probs: np.ndarray, temperature: float, axis: int = 1) -> np.ndarray:
    """Class probabilities raised to ``1 / temperature`` and renormalised along ``axis`` (float32).

    Temperature scaling (Guo et al. 2017): ``temperature > 1`` flattens over-confident probabilities
    (a random forest's votes on its own training pixels, a map year trained on samples that change
    class often), so the HMM's transitions weigh more against one year's evidence; 1 returns the
    probabilities unchanged; NaN (no data) stays NaN.
    """
    if not temperature > 0:
        raise ProductError(f"temperature must be positive, got {temperature}")
    p = np.asarray(probs, dtype=np.float32)
    if temperature == 1.0:
        return p
    q = np.power(np.maximum(p, np.float32(1e-6)), np.float32(1.0 / temperature))
    return q / q.sum(axis=axis, keepdims=True)


def _log_emissions(p: np.ndarray, v: np.ndarray, floor: float) -> np.ndarray:
    """``(Y, C, N)`` log emissions: log of the floored probabilities, 0 for unobserved years."""
    if not 0.0 < floor < 1.0:
        raise ProductError(f"floor must lie in (0, 1), got {floor}")
    out = np.log(np.maximum(np.nan_to_num(p.astype(np.float32), nan=0.0), np.float32(floor)))
    out[np.broadcast_to(~v[:, None, :], out.shape)] = 0.0
    return out


def _check_transitions(transitions: np.ndarray, n_classes: int) -> np.ndarray:
    a = np.asarray(transitions, dtype=np.float64)
    if a.shape != (n_classes, n_classes):
        raise ProductError(f"transitions must have shape {(n_classes, n_classes)}, got {a.shape}")
    if (a < 0).any() or not np.allclose(a.sum(axis=1), 1.0, atol=1e-6):
        raise ProductError("transitions must be a row-stochastic matrix (non-negative rows summing to 1)")
    return a


def viterbi(
    probs: np.ndarray, transitions: np.ndarray, valid: np.ndarray | None = None, floor: float = 0.01
) -> np.ndarray:
    """Most probable class sequence of every pixel, ``(Y, N)`` uint8.

    ``probs``: ``(Y, C, N)`` per-year class probabilities; ``transitions``: ``(C, C)`` row-stochastic;
    the initial class distribution is uniform. Unobserved pixel-years (``valid`` False) get
    :data:`NODATA_CLASS`; the years around them are still linked through the transition matrix.
    """
    p, v = _check_probs(probs, valid)
    n_years, n_classes, n = p.shape
    log_a = np.log(np.maximum(_check_transitions(transitions, n_classes), 1e-300)).astype(np.float32)
    out = np.full((n_years, n), NODATA_CLASS, dtype=np.uint8)
    if n_years == 0 or n == 0:
        return out
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        path = _viterbi_path(_log_emissions(p[:, :, lo:hi], v[:, lo:hi], floor), log_a)
        out[:, lo:hi] = np.where(v[:, lo:hi], path, NODATA_CLASS)
    return out


def _viterbi_path(log_e: np.ndarray, log_a: np.ndarray) -> np.ndarray:
    """``(Y, n)`` uint8 best path of ``(Y, C, n)`` log emissions under ``(C, C)`` log transitions.

    The max over the previous class is a loop over classes on ``(C, n)`` arrays (strict ``>``: the
    first best class wins ties, as ``argmax`` does), not an arg-max across a ``(C, C, n)`` array.
    """
    n_years, n_classes, n = log_e.shape
    delta = log_e[0].copy()  # (C, n): best log score of a path ending in each class
    back = np.zeros((n_years, n_classes, n), dtype=np.uint8)
    better = np.empty((n_classes, n), dtype=bool)
    cand = np.empty((n_classes, n), dtype=np.float32)
    for t in range(1, n_years):
        best = delta[0][None, :] + log_a[0][:, None]  # (C_to, n) scores coming from class 0
        for i in range(1, n_classes):
            np.add(delta[i][None, :], log_a[i][:, None], out=cand)
            np.greater(cand, best, out=better)
            np.copyto(best, cand, where=better)
            np.copyto(back[t], np.uint8(i), where=better)
        delta = best + log_e[t]
    path = np.empty((n_years, n), dtype=np.uint8)
    path[-1] = delta.argmax(axis=0)
    cols = np.arange(n)
    for t in range(n_years - 1, 0, -1):
        path[t - 1] = back[t][path[t], cols]
    return path


def posterior(
    probs: np.ndarray, transitions: np.ndarray, valid: np.ndarray | None = None, floor: float = 0.01
) -> np.ndarray:
    """Marginal class probabilities of every pixel-year given all its years, ``(Y, C, N)`` float32.

    The forward-backward algorithm with the same model as :func:`viterbi` (scaled per year, so long
    series do not underflow). Rows of unobserved pixel-years hold what the neighbouring years imply.
    """
    p, v = _check_probs(probs, valid)
    n_years, n_classes, n = p.shape
    a = _check_transitions(transitions, n_classes).astype(np.float32)
    out = np.empty((n_years, n_classes, n), dtype=np.float32)
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        out[:, :, lo:hi] = _forward_backward(np.exp(_log_emissions(p[:, :, lo:hi], v[:, lo:hi], floor)), a)
    return out


def _forward_backward(e: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``(Y, C, n)`` marginals of ``(Y, C, n)`` emissions (in ``[floor, 1]``) under ``(C, C)`` transitions."""
    n_years, n_classes, n = e.shape
    out = np.empty_like(e)
    fwd = np.empty_like(e)
    f = e[0] / e[0].sum(axis=0, keepdims=True)
    fwd[0] = f
    for t in range(1, n_years):
        f = (a.T @ f) * e[t]
        f /= f.sum(axis=0, keepdims=True)
        fwd[t] = f
    b = np.ones((n_classes, n), dtype=np.float32)
    out[-1] = fwd[-1]
    for t in range(n_years - 2, -1, -1):
        b = a @ (e[t + 1] * b)
        b /= b.sum(axis=0, keepdims=True)
        g = fwd[t] * b
        out[t] = g / g.sum(axis=0, keepdims=True)
    return out


def entropy(probs: np.ndarray, axis: int = -2) -> np.ndarray:
    """Normalised Shannon entropy along the class ``axis``: 0 = one sure class, 1 = all classes equal.

    The uncertainty layer of the maps (as ``sits_uncertainty(type = "entropy")`` but scaled by
    ``log C`` so that it reads the same whatever the number of classes); NaN where the row is NaN.
    """
    p = np.asarray(probs, dtype=np.float64)
    n_classes = p.shape[axis]
    if n_classes < 2:
        return np.zeros(np.delete(p.shape, axis % p.ndim), dtype=np.float32)
    s = p.sum(axis=axis, keepdims=True)
    q = p / np.where(s > 0, s, 1.0)
    h = -(q * np.log(np.where(q > 0, q, 1.0))).sum(axis=axis)
    return (h / np.log(n_classes)).astype(np.float32)


def margin(probs: np.ndarray, axis: int = -2) -> np.ndarray:
    """Uncertainty as ``1 - (p_first - p_second)`` along the class ``axis``: 0 sure, 1 a tie."""
    p = np.sort(np.asarray(probs, dtype=np.float32), axis=axis)
    top = np.take(p, -1, axis=axis)
    second = np.take(p, -2, axis=axis) if p.shape[axis] > 1 else np.zeros_like(top)
    return (1.0 - (top - second)).astype(np.float32)


@dataclass(frozen=True)
class ConsistentMaps:
    """The outcome of :func:`make_consistent` for a set of pixels (``N``) or a grid (``H, W``)."""

    classes: np.ndarray  # (Y, N) or (Y, H, W) uint8: the most probable sequence; NODATA_CLASS unobserved
    uncertainty: np.ndarray  # same shape, float32 normalised entropy of the final marginals; NaN unobserved
    transitions: np.ndarray  # (C, C) the transition matrix used


def make_consistent(
    probs: np.ndarray, valid: np.ndarray, transitions: np.ndarray, config: TemporalConfig
) -> ConsistentMaps:
    """Temporal step of the pipeline: Viterbi classes and entropy of the marginals per pixel-year.

    ``probs (Y, C, N)``, ``valid (Y, N)``; the emissions are the probabilities tempered by
    ``config.temperature`` (:func:`temper`). With ``config.enabled`` False the classes are each year's
    own most probable class and the uncertainty is the entropy of its own probabilities (the maps
    without the temporal step). Works through :data:`CHUNK` pixels at a time, so memory stays at a
    few arrays of ``(Y, C, CHUNK)`` whatever ``N``.
    """
    p, v = _check_probs(probs, valid)
    n_years, n_classes, n = p.shape
    a = _check_transitions(transitions, n_classes)
    log_a = np.log(np.maximum(a, 1e-300)).astype(np.float32)
    a = a.astype(np.float32)
    classes = np.full((n_years, n), NODATA_CLASS, dtype=np.uint8)
    unc = np.full((n_years, n), np.nan, dtype=np.float32)
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        pc, vc = p[:, :, lo:hi].astype(np.float32), v[:, lo:hi]
        if config.enabled:  # one set of emissions per chunk for both Viterbi and forward-backward
            log_e = _log_emissions(temper(pc, config.temperature), vc, config.floor)
            classes[:, lo:hi] = np.where(vc, _viterbi_path(log_e, log_a), NODATA_CLASS)
            marg = _forward_backward(np.exp(log_e), a)
        else:
            top = np.nan_to_num(pc, nan=-1.0).argmax(axis=1)
            classes[:, lo:hi] = np.where(vc, top, NODATA_CLASS)
            marg = pc
        unc[:, lo:hi] = np.where(vc, entropy(marg, axis=1), np.nan)
    return ConsistentMaps(classes, unc, np.asarray(transitions, dtype=np.float64))


def make_consistent_grid(
    probs: np.ndarray,
    valid: np.ndarray,
    transitions: np.ndarray,
    temporal: TemporalConfig,
    smoothing: SmoothingConfig,
) -> ConsistentMaps:
    """Spatial smoothing (:mod:`ml.smoothing`) of each year, then :func:`make_consistent` per pixel.

    ``probs (Y, C, H, W)`` class probabilities (NaN without data), ``valid (Y, H, W)``; returns
    ``(Y, H, W)`` classes and uncertainty.
    """
    p = np.asarray(probs)
    if p.ndim != 4:
        raise ProductError(f"probabilities must have shape (Y, C, H, W), got {p.shape}")
    n_years, n_classes, h, w = p.shape
    v = np.asarray(valid, dtype=bool)
    if v.shape != (n_years, h, w):
        raise ProductError(f"valid must have shape {(n_years, h, w)}, got {v.shape}")
    if smoothing.enabled:
        smoothed = np.empty(p.shape, dtype=np.float16)
        for t in range(n_years):  # one year at a time: float32 temporaries of one (C, H, W) only
            smoothed[t] = bayes_smooth(p[t], v[t], smoothing.window, smoothing.smoothness)
        p = smoothed
    out = make_consistent(
        p.reshape(n_years, n_classes, h * w), v.reshape(n_years, h * w), transitions, temporal
    )
    return ConsistentMaps(
        out.classes.reshape(n_years, h, w), out.uncertainty.reshape(n_years, h, w), out.transitions
    )


STRIP_ROWS: Final[int] = 256  # grid rows of probabilities held at once (one row of analysis windows)


def make_consistent_strips(
    read_rows: Callable[[int, int], np.ndarray],
    inside: np.ndarray,
    n_years: int,
    transitions: np.ndarray,
    temporal: TemporalConfig,
    smoothing: SmoothingConfig,
    strip_rows: int = STRIP_ROWS,
) -> tuple[np.ndarray, ConsistentMaps]:
    """:func:`make_consistent_grid` of a whole grid, reading its probabilities a band of rows at a time.

    ``read_rows(lo, hi)`` gives the ``(Y, C, hi - lo, W)`` probabilities of grid rows ``lo:hi`` (NaN
    without data); ``inside``: ``(H, W)`` bool, the pixels of the area (the others are nodata). A strip
    of ``strip_rows`` rows is read with the smoother's halo (``window // 2`` rows each side when
    smoothing is on), so the result equals one call on the whole grid while at most one strip's
    probabilities are in memory. Returns ``raw`` (``(Y, H, W)`` uint8, each year's own most probable
    class) and the consistent maps (``uncertainty`` float16 to halve the whole-grid array).
    """
    h, w = inside.shape
    shape = (n_years, h, w)
    raw = np.full(shape, NODATA_CLASS, dtype=np.uint8)
    classes = np.full(shape, NODATA_CLASS, dtype=np.uint8)
    uncertainty = np.full(shape, np.nan, dtype=np.float16)
    halo = smoothing.window // 2 if smoothing.enabled else 0
    for top in range(0, h, strip_rows):
        bottom = min(h, top + strip_rows)
        lo, hi = max(0, top - halo), min(h, bottom + halo)
        probs = read_rows(lo, hi)
        strip_inside = inside[lo:hi]
        valid = ~np.isnan(probs).any(axis=1) & strip_inside[None]  # (Y, rows, W)
        probs[:, :, ~strip_inside] = np.nan
        out = make_consistent_grid(probs, valid, transitions, temporal, smoothing)
        keep = slice(top - lo, bottom - lo)
        top_class = np.nan_to_num(probs[..., keep, :], nan=-1.0).argmax(axis=1)
        raw[:, top:bottom] = np.where(valid[:, keep], top_class, NODATA_CLASS)
        classes[:, top:bottom] = out.classes[:, keep]
        uncertainty[:, top:bottom] = out.uncertainty[:, keep]
    return raw, ConsistentMaps(classes, uncertainty, np.asarray(transitions, dtype=np.float64))


def class_series(names: np.ndarray, class_names: list[str]) -> np.ndarray:
    """``(S, Y)`` class names (e.g. TasGen's dynamic samples; ``""`` unknown) -> int64 indices, -1 unknown."""
    arr = np.asarray(names).astype(str)
    out = np.full(arr.shape, -1, dtype=np.int64)
    for i, name in enumerate(class_names):
        out[arr == name] = i
    return out


def changed_by_step(before: np.ndarray, after: np.ndarray, n_classes: int) -> np.ndarray:
    """``(C, C)`` int64 count of pixel-years the consistency step moved from class ``i`` (row) to ``j``.

    ``before``: the classes each year's probabilities alone give; ``after``: the consistent classes
    (same shape, NODATA_CLASS ignored). The diagonal is 0: unchanged pixel-years are not counted.
    """
    a, b = np.asarray(before).ravel(), np.asarray(after).ravel()
    if a.shape != b.shape:
        raise ProductError(f"before {np.shape(before)} and after {np.shape(after)} must have the same shape")
    ok = (a < n_classes) & (b < n_classes) & (a != b)
    code = a[ok].astype(np.int64) * n_classes + b[ok].astype(np.int64)
    return np.bincount(code, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
