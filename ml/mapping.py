"""Per-pixel-year land-cover mapping from ESD embeddings: fit on samples, predict windows, score.

Features are the 72 values (12 months x 6 code dims) of one pixel-year. The classifier is a random
forest (robust on small label sets, no scaling needed). How far its maps agree with the user's labels
is measured in :mod:`ml.accuracy` (spatially grouped cross-validation, area-adjusted validation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from ml.errors import SamplesError

NODATA_CLASS = 255  # class value of pixels without data (uint8 maps)


@dataclass(frozen=True)
class MapperConfig:
    """Random-forest settings of the pixel classifier."""

    trees: int = 100  # number of trees
    max_depth: int | None = 24  # depth cap keeps prediction fast on large windows
    min_samples_leaf: int = 1  # leaf size
    n_jobs: int = 2  # threads for fit/predict (the workers have 2 cores)
    seed: int = 0  # random_state


def features(codes: np.ndarray) -> np.ndarray:
    """(..., 12, 6) codes -> (..., 72) float32 feature vectors."""
    return codes.reshape(*codes.shape[:-2], -1).astype(np.float32, copy=False)


def fit_mapper(x: np.ndarray, y: np.ndarray, config: MapperConfig | None = None) -> RandomForestClassifier:
    """Fit on ``x (n, 72)`` and integer classes ``y (n,)``; raises when fewer than 2 classes are present."""
    config = config or MapperConfig()
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise SamplesError(f"features {x.shape} and classes {y.shape} do not match")
    if np.unique(y).size < 2:
        raise SamplesError("need samples of at least 2 classes to train the map classifier")
    model = RandomForestClassifier(
        n_estimators=config.trees,
        max_depth=config.max_depth,
        min_samples_leaf=config.min_samples_leaf,
        n_jobs=config.n_jobs,
        random_state=config.seed,
    )
    model.fit(x, y)
    return model


def predict_window(model: RandomForestClassifier, codes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Class map of a window: ``codes (Y, 12, 6, H, W)``, ``valid (Y, H, W)`` -> ``(Y, H, W)`` uint8.

    Pixels without data get :data:`NODATA_CLASS`; values are indices into the classes ``model`` saw.
    """
    n_years, _, _, h, w = codes.shape
    out = np.full((n_years, h, w), NODATA_CLASS, dtype=np.uint8)
    x = np.moveaxis(codes, (3, 4), (1, 2)).reshape(n_years, h, w, -1)  # (Y, H, W, 72)
    sel = valid
    if sel.any():
        out[sel] = model.predict(x[sel].astype(np.float32)).astype(np.uint8)
    return out


def predict_proba_window(
    model: RandomForestClassifier, codes: np.ndarray, valid: np.ndarray, n_classes: int
) -> np.ndarray:
    """Class probabilities of a window: ``codes (Y, 12, 6, H, W)``, ``valid (Y, H, W)`` -> ``(Y, C, H, W)``.

    float16 probabilities (the share of trees voting each class) of all ``n_classes`` classes of the
    label set, in class-index order: a class the model never saw gets 0. Pixels without data are NaN.
    The most probable class is what :func:`predict_window` returns.
    """
    n_years, _, _, h, w = codes.shape
    out = np.full((n_years, n_classes, h, w), np.nan, dtype=np.float16)
    x = np.moveaxis(codes, (3, 4), (1, 2)).reshape(n_years, h, w, -1)  # (Y, H, W, 72)
    if valid.any():
        seen = np.asarray(model.classes_, dtype=np.int64)  # class index of each predict_proba column
        proba = np.zeros((int(valid.sum()), n_classes), dtype=np.float32)
        proba[:, seen] = model.predict_proba(x[valid].astype(np.float32))
        out_v = np.moveaxis(out, 1, -1)  # (Y, H, W, C) view
        out_v[valid] = proba.astype(np.float16)
    return out
