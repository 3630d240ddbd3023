"""Per-pixel-year land-cover mapping from ESD embeddings: fit on samples, predict windows, score.

Features are the 72 values (12 months x 6 code dims) of one pixel-year. The classifier is a random
forest (robust on small label sets, no scaling needed); accuracy is estimated by cross-validation
grouped by location so that years of one pixel never sit on both sides of a split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, f1_score
from sklearn.model_selection import GroupKFold

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


@dataclass(frozen=True)
class Accuracy:
    """Cross-validated accuracy: overall accuracy, Cohen's kappa, F1 per class and the confusion matrix."""

    oa: float
    kappa: float
    f1: dict[str, float]
    confusion: list[list[int]]  # rows true class, columns predicted, in ``classes`` order
    classes: list[str]
    n_samples: int
    folds: int
    per_year: dict[int, float] = field(default_factory=dict)  # OA per year of the samples

    def as_dict(self) -> dict:
        return {
            "oa": round(self.oa, 4),
            "kappa": round(self.kappa, 4),
            "f1": {k: round(v, 4) for k, v in self.f1.items()},
            "confusion": self.confusion,
            "classes": self.classes,
            "n_samples": self.n_samples,
            "folds": self.folds,
            "per_year_oa": {str(k): round(v, 4) for k, v in self.per_year.items()},
        }


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


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    class_names: list[str],
    years: np.ndarray | None = None,
    folds: int = 5,
    config: MapperConfig | None = None,
) -> Accuracy:
    """Grouped k-fold accuracy of the mapper (``groups`` = location ids, so no pixel is on both sides)."""
    n_groups = np.unique(groups).size
    k = min(folds, n_groups)
    if k < 2:
        raise SamplesError("need samples at 2 or more locations to cross-validate")
    pred = np.empty_like(y)
    for train, test in GroupKFold(n_splits=k).split(x, y, groups):
        if np.unique(y[train]).size < 2:
            pred[test] = y[train][0]
            continue
        pred[test] = fit_mapper(x[train], y[train], config).predict(x[test])
    labels = list(range(len(class_names)))
    f1 = f1_score(y, pred, labels=labels, average=None, zero_division=0)
    present = set(np.unique(y).tolist())
    per_year: dict[int, float] = {}
    if years is not None:
        for yr in np.unique(years):
            m = years == yr
            per_year[int(yr)] = float(accuracy_score(y[m], pred[m]))
    return Accuracy(
        oa=float(accuracy_score(y, pred)),
        kappa=float(cohen_kappa_score(y, pred)) if np.unique(np.concatenate([y, pred])).size > 1 else 1.0,
        f1={class_names[i]: float(f1[i]) for i in labels if i in present},
        confusion=confusion_matrix(y, pred, labels=labels).tolist(),
        classes=list(class_names),
        n_samples=int(y.size),
        folds=k,
        per_year=per_year,
    )
