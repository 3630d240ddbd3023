"""Simple alternatives to TasGen stage 1, scored by the same protocols.

Each baseline marks sample-years as changed; changed years are relabelled by the same stage-2 rule
as TasGen (``ml.tasgen.relabel``: a forest trained on the baseline's unchanged training years), so
the comparison isolates change detection.

- ``static``: the static class copied to every year, nothing changed.
- ``cosine_<thr>``: cosine similarity of the standardized (12*D) year vector to the previous valid
  year's vector (the official ESD demo's change rule, threshold 0.2); the first valid year is compared
  with the mean vector of its static class. A year after the reference year is changed when a
  similarity drop happened in (reference, year]; a year before it when one happened in (year,
  reference]; the reference year itself when it is dissimilar to its class mean.
- ``isolation_forest``: one ``IsolationForest`` per static class on the raw (unstandardized) year
  vectors of the training reference years; a sample-year is changed when its class's forest calls it
  an outlier (``contamination="auto"``).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from ml.tasgen.series import SampleSeries


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def cosine_similarities(
    series: SampleSeries, mean: np.ndarray, std: np.ndarray, class_means: dict[str, np.ndarray]
) -> np.ndarray:
    """(N, Y) cosine of each valid year to its previous valid year (first valid year: class mean).

    ``mean``/``std (D,)`` standardize the values; ``class_means`` maps a class to its mean standardized
    (12*D) vector. NaN where the year has no data.
    """
    n, y = series.valid.shape
    v = ((series.values - mean) / std).reshape(n, y, -1)
    out = np.full((n, y), np.nan)
    for i in range(n):
        prev: np.ndarray | None = None
        for j in np.flatnonzero(series.valid[i]):
            ref = prev if prev is not None else class_means[str(series.static_class[i])]
            out[i, j] = float(_unit(v[i, j]) @ _unit(ref))
            prev = v[i, j]
    return out


def reference_class_cosine(
    series: SampleSeries, mean: np.ndarray, std: np.ndarray, class_means: dict[str, np.ndarray]
) -> np.ndarray:
    """(N,) cosine of each sample's reference-year vector to the mean vector of its static class."""
    n = series.n_samples
    v = ((series.values[np.arange(n), series.reference_index] - mean) / std).reshape(n, -1)
    c = np.stack([class_means[str(k)] for k in series.static_class])
    return np.sum(_unit(v) * _unit(c), axis=1)


def class_mean_vectors(series: SampleSeries, mean: np.ndarray, std: np.ndarray) -> dict[str, np.ndarray]:
    """Mean standardized (12*D) reference-year vector of each static class of ``series``."""
    n = series.n_samples
    v = ((series.values[np.arange(n), series.reference_index] - mean) / std).reshape(n, -1)
    return {str(c): v[series.static_class == c].mean(0) for c in np.unique(series.static_class)}


def cosine_changed(
    series: SampleSeries, sim: np.ndarray, ref_sim: np.ndarray, threshold: float
) -> np.ndarray:
    """(N, Y) bool changed years from year-to-year similarities ``sim`` (rule in the module docstring)."""
    n, y = series.valid.shape
    drop = np.nan_to_num(sim, nan=1.0) < threshold
    changed = np.zeros((n, y), dtype=bool)
    ref = series.reference_index
    for i in range(n):
        r = ref[i]
        for j in np.flatnonzero(series.valid[i]):
            if j > r:
                changed[i, j] = drop[i, r + 1 : j + 1].any()
            elif j < r:
                changed[i, j] = drop[i, j + 1 : r + 1].any()
            else:
                changed[i, j] = ref_sim[i] < threshold
    return changed


def fit_isolation_forests(series: SampleSeries, seed: int) -> dict[str, IsolationForest]:
    """One isolation forest per static class on raw reference-year vectors (12*D) of ``series``."""
    n = series.n_samples
    v = series.values[np.arange(n), series.reference_index].reshape(n, -1)
    out: dict[str, IsolationForest] = {}
    for c in np.unique(series.static_class):
        out[str(c)] = IsolationForest(n_estimators=200, random_state=seed).fit(v[series.static_class == c])
    return out


def isolation_forest_changed(series: SampleSeries, forests: dict[str, IsolationForest]) -> np.ndarray:
    """(N, Y) bool: valid sample-years that the forest of their static class calls outliers."""
    n, y = series.valid.shape
    v = series.values.reshape(n, y, -1)
    out = np.zeros((n, y), dtype=bool)
    for c, forest in forests.items():
        sel = (series.static_class == c)[:, None] & series.valid
        if sel.any():
            out[sel] = forest.predict(v[sel]) == -1
    return out
