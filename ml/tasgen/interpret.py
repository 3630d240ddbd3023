"""Gibbs-sampling attribution of an anomalous sample-year to months and bands (TasGen interpretation).

Each cell (month, dim) of the year has a binary switch ``m``: 1 restores the cell to the normal
pattern, 0 keeps the observed value. The target distribution prefers few restored cells that together
bring the anomaly score down to the class's normal level:

    E(m) = max(score(x restored by m) - target, 0) / temperature + cost * |m| / temperature,
    p(m) ~ exp(-E(m))

with ``target`` the class's median score (``ml.tasgen.detect``), ``temperature`` and ``cost`` in nats.
Gibbs sweeps update every cell from its exact conditional (random order per sweep, all sample-years
in parallel, one batched score per cell). Two importances per cell are averaged over the sweeps after
burn-in: ``cell_probability`` (how often the cell is restored) and ``cell_effect`` (the score drop,
in nats, from restoring the cell given the current state of all other cells, floored at 0: its
marginal contribution under the Gibbs posterior). Per-month and per-dim attributions are the cell
effects summed over the other axis and normalized to sum 1. A fixed ``seed`` gives the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.errors import TasGenError


@dataclass(frozen=True)
class Attribution:
    """Gibbs attribution of ``M`` sample-years."""

    cell_probability: np.ndarray  # (M, 12, D) posterior probability that the cell is restored
    cell_effect: np.ndarray  # (M, 12, D) mean score drop (nats, >= 0) from restoring the cell
    month: np.ndarray  # (M, 12) cell effects summed over dims, normalized to sum 1 (uniform if all 0)
    dim: np.ndarray  # (M, D) cell effects summed over months, normalized to sum 1 (uniform if all 0)
    residual_score: np.ndarray  # (M,) score with the probable cells (probability >= 0.5) restored


def _normalize(a: np.ndarray) -> np.ndarray:
    total = a.sum(1, keepdims=True)
    uniform = np.full_like(a, 1.0 / a.shape[1])
    return np.where(total > 0, a / np.where(total > 0, total, 1.0), uniform)


def gibbs_attribution(
    score_fn: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    normal: np.ndarray,
    target: np.ndarray,
    sweeps: int = 16,
    burn_in: int = 4,
    temperature: float = 1.0,
    cost: float = 1.0,
    seed: int = 0,
) -> Attribution:
    """Attribute the anomalies of ``x (M, 12, D)`` against ``normal (M, 12, D)``.

    ``score_fn`` maps ``(K, 12, D)`` years (the same M sample-years, possibly stacked twice) to
    ``(K,)`` anomaly scores (nats); ``target (M,)`` is the normal score level of each sample-year's class.
    """
    if x.shape != normal.shape or x.ndim != 3:
        raise TasGenError(f"x {x.shape} and normal {normal.shape} must both be (M, 12, D)")
    if sweeps <= burn_in or burn_in < 0:
        raise TasGenError(f"need sweeps > burn_in >= 0, got sweeps={sweeps}, burn_in={burn_in}")
    m_count, months, dims = x.shape
    if m_count == 0:
        z = np.zeros((0, months))
        return Attribution(np.zeros(x.shape), np.zeros(x.shape), z, np.zeros((0, dims)), np.zeros(0))
    rng = np.random.default_rng(seed)
    n_cells = months * dims
    xf, nf = x.reshape(m_count, n_cells), normal.reshape(m_count, n_cells)
    mask = np.zeros((m_count, n_cells), dtype=bool)
    acc = np.zeros((m_count, n_cells))
    effect = np.zeros((m_count, n_cells))

    def energy(scores: np.ndarray, masks: np.ndarray) -> np.ndarray:
        return (np.maximum(scores - target, 0.0) + cost * masks.sum(1)) / temperature

    for sweep in range(sweeps):
        for cell in rng.permutation(n_cells):
            on, off = mask.copy(), mask.copy()
            on[:, cell], off[:, cell] = True, False
            both = np.concatenate([np.where(on, nf, xf), np.where(off, nf, xf)])
            s = score_fn(both.reshape(2 * m_count, months, dims))
            delta = energy(s[:m_count], on) - energy(s[m_count:], off)
            if sweep >= burn_in:
                effect[:, cell] += np.maximum(s[m_count:] - s[:m_count], 0.0)
            p_on = 1.0 / (1.0 + np.exp(np.clip(delta, -50, 50)))
            mask[:, cell] = rng.random(m_count) < p_on
        if sweep >= burn_in:
            acc += mask
    kept = sweeps - burn_in
    cell_p = acc / kept
    residual = score_fn(np.where(cell_p >= 0.5, nf, xf).reshape(m_count, months, dims))
    eff = (effect / kept).reshape(m_count, months, dims)
    return Attribution(
        cell_probability=cell_p.reshape(m_count, months, dims),
        cell_effect=eff,
        month=_normalize(eff.sum(2)),
        dim=_normalize(eff.sum(1)),
        residual_score=residual,
    )


@dataclass(frozen=True)
class DecodedAttribution:
    """An attribution of ``M`` sample-years told in decoded bands (physical units) and months."""

    cell: np.ndarray  # (M, 12, B) share of each (month, band) in the explained difference, sums to 1
    month: np.ndarray  # (M, 12) cell shares summed over bands
    band: np.ndarray  # (M, B) cell shares summed over months


def decoded_attribution(
    decode: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    normal: np.ndarray,
    cell_effect: np.ndarray,
) -> DecodedAttribution:
    """Turn a code-cell attribution into (month, band) shares through the store's decoder.

    ``x (M, 12, D)`` observed codes, ``normal (M, 12, D)`` the normal codes they were restored
    towards, ``cell_effect (M, 12, D)`` :class:`Attribution`'s cell effects (score drop, >= 0);
    ``decode`` maps ``(K, 12, D)`` codes to ``(K, 12, B)`` physical bands. Each code cell is moved
    towards its normal value by its share of the year's largest cell effect (the cells that explain
    the anomaly move most); the explained difference is ``decode(x) - decode(partly restored x)``
    per (month, band), each band divided by its spread over the normal years of the batch (so that
    reflectance bands of different ranges compare), then normalized to sum 1 per year. A year whose
    cell effects are all 0 is restored fully instead (nothing singled out: the whole difference).
    """
    if x.shape != normal.shape or x.shape != cell_effect.shape or x.ndim != 3:
        raise TasGenError(
            f"x {x.shape}, normal {normal.shape} and cell_effect {cell_effect.shape} must all be (M, 12, D)"
        )
    m = len(x)
    top = cell_effect.reshape(m, -1).max(1)[:, None, None]
    w = np.where(top > 0, np.clip(cell_effect / np.where(top > 0, top, 1.0), 0.0, 1.0), 1.0)
    restored = (x + w * (normal - x)).astype(np.float32)
    dec = decode(np.concatenate([x, restored, normal]).astype(np.float32))
    d_x, d_r, d_n = dec[:m], dec[m : 2 * m], dec[2 * m :]
    spread = np.maximum(d_n.reshape(-1, dec.shape[-1]).std(0), 1e-6)
    cell = np.abs(d_x - d_r) / spread
    total = cell.reshape(m, -1).sum(1)[:, None, None]
    cell = np.where(total > 0, cell / np.where(total > 0, total, 1.0), 1.0 / cell[0].size)
    return DecodedAttribution(cell=cell, month=cell.sum(2), band=cell.sum(1))
