"""Bayesian spatial smoothing of class probabilities, after ``sits_smooth`` (pure numpy + scipy).

The method of Câmara et al. (R package ``sits``, ``sits_smooth(type = "bayes")``; Simoes et al. 2021,
"Satellite image time series analysis for big Earth observation data", Remote Sensing 13(13)): each
class's probability is turned into a logit ``x``; the logits of a ``window x window`` neighbourhood
give a prior ``N(m, s2)`` (their mean and sample variance); the pixel's own logit is a likelihood
with variance ``smoothness``; the posterior mean is ``w * x + (1 - w) * m`` with
``w = s2 / (s2 + smoothness)``. A pixel in a uniform neighbourhood (small ``s2``) is pulled towards its
neighbours, a pixel on a boundary (large ``s2``) keeps its own value, so edges survive. Larger
``smoothness`` smooths more. The smoothed logits go back to probabilities that sum to 1.

Differences from ``sits``: neighbours outside the grid or without data are left out (``sits``
mirrors the edges), and every neighbour counts (no ``neighborhood_fraction``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from ml.errors import ProductError

EPS = 1e-4  # probabilities are clipped to [EPS, 1 - EPS] before the logit


@dataclass(frozen=True)
class SmoothingConfig:
    """Settings of the spatial step (the analysis parameters' ``smoothing`` object)."""

    # off by default: on the 231 m demo it cost spliced real changes (docs/benchmarks/temporal.md)
    enabled: bool = False  # run the smoother before the temporal step
    window: int = 3  # odd side of the square neighbourhood, in pixels (3 = the 8 neighbours)
    smoothness: float = 10.0  # variance of a pixel's own logit: larger pulls harder to the neighbours


def _box_sum(a: np.ndarray, window: int) -> np.ndarray:
    """Sum over a ``window x window`` box of each pixel (zeros outside the grid), ``(..., H, W)``."""
    size = (1,) * (a.ndim - 2) + (window, window)
    return uniform_filter(a, size=size, mode="constant", cval=0.0) * float(window * window)


def bayes_smooth(
    probs: np.ndarray, valid: np.ndarray, window: int = 3, smoothness: float = 10.0
) -> np.ndarray:
    """Smoothed class probabilities of one map, ``(C, H, W)`` float32 summing to 1 on valid pixels.

    ``probs``: ``(C, H, W)`` probabilities; ``valid``: ``(H, W)`` bool, pixels with data (the others
    neither use nor lend their values and come back as NaN). A pixel with fewer than 2 valid
    neighbours (itself included) keeps its own probabilities.
    """
    p = np.asarray(probs, dtype=np.float32)
    v = np.asarray(valid, dtype=bool)
    if p.ndim != 3:
        raise ProductError(f"probabilities must have shape (C, H, W), got {p.shape}")
    if v.shape != p.shape[1:]:
        raise ProductError(f"valid must have shape {p.shape[1:]}, got {v.shape}")
    if window < 1 or window % 2 == 0:
        raise ProductError(f"window must be a positive odd number, got {window}")
    if smoothness <= 0:
        raise ProductError(f"smoothness must be positive, got {smoothness}")
    q = np.clip(np.nan_to_num(p, nan=0.5), EPS, 1.0 - EPS)
    x = (np.log(q / (1.0 - q)) * v).astype(np.float32)  # (C, H, W) logits, 0 where no data
    n = _box_sum(v.astype(np.float32), window)[None]  # (1, H, W) valid neighbours
    s1 = _box_sum(x, window)
    s2 = _box_sum(x * x, window)
    ok = n >= 2
    mean = s1 / np.where(ok, n, 1.0)
    var = np.maximum((s2 - n * mean * mean) / np.where(ok, n - 1.0, 1.0), 0.0)  # sample variance
    w = np.where(ok, var / (var + smoothness), 1.0)
    post = w * x + (1.0 - w) * mean
    out = 1.0 / (1.0 + np.exp(-post))
    out /= out.sum(axis=0, keepdims=True)
    return np.where(v[None], out, np.nan).astype(np.float32)


def smooth_series(probs: np.ndarray, valid: np.ndarray, config: SmoothingConfig) -> np.ndarray:
    """:func:`bayes_smooth` of every year: ``probs (Y, C, H, W)``, ``valid (Y, H, W)`` -> same shape."""
    p = np.asarray(probs)
    if p.ndim != 4:
        raise ProductError(f"probabilities must have shape (Y, C, H, W), got {p.shape}")
    if not config.enabled:
        return p.astype(np.float32)
    return np.stack(
        [bayes_smooth(p[t], valid[t], config.window, config.smoothness) for t in range(p.shape[0])]
    )
