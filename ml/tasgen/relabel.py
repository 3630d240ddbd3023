"""TasGen stage 2: a classifier trained on the stable sample-years relabels the anomalous ones.

Stable sample-years (valid, not flagged by stage 1) carry their static class; a random forest on
their standardized monthly vectors learns every class. A flagged year is then relabelled:

- if the forest gives the static class a probability >= ``unflag_confidence``, the flag is dropped
  (the year is stable after all: the detector's false alarm);
- otherwise the year takes the most probable class *other than* the static one (the detector says it
  changed, the classifier says to what), with that class's probability as confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from ml.errors import TasGenError


@dataclass(frozen=True)
class Relabeler:
    """A fitted stage-2 classifier; column ``c`` of its probabilities is class ``classes[c]``."""

    forest: RandomForestClassifier  # fitted on (M, F) features with labels in 0..C-1
    n_classes: int  # C, the number of classes of the TasGen model

    def proba(self, features: np.ndarray) -> np.ndarray:
        """(M, C) class probabilities; classes absent from the stable set get probability 0."""
        out = np.zeros((len(features), self.n_classes))
        if len(features):
            out[:, self.forest.classes_] = self.forest.predict_proba(features)
        return out


def year_features(x: np.ndarray) -> np.ndarray:
    """(M, 12*D + 4*D) classifier features of standardized years ``x (M, 12, D)``.

    The flattened months plus each dimension's annual mean, standard deviation, minimum and maximum.
    """
    flat = x.reshape(len(x), -1)
    stats = np.concatenate([x.mean(1), x.std(1), x.min(1), x.max(1)], axis=1)
    return np.concatenate([flat, stats], axis=1).astype(np.float32)


def fit_relabeler(
    features: np.ndarray, labels: np.ndarray, n_classes: int, seed: int, n_trees: int = 200
) -> Relabeler:
    """Fit the forest on stable ``features (M, F)`` with class indices ``labels (M,)``.

    Raises :class:`TasGenError` when fewer than two classes have stable sample-years (nothing to
    relabel to).
    """
    present = np.unique(labels)
    if len(present) < 2:
        raise TasGenError(
            f"stage 2 needs stable sample-years of at least 2 classes, got {len(present)}; "
            "add labels of another class"
        )
    forest = RandomForestClassifier(
        n_estimators=n_trees, min_samples_leaf=1, n_jobs=1, random_state=seed, class_weight="balanced"
    )
    forest.fit(features, labels)
    return Relabeler(forest=forest, n_classes=n_classes)


def relabel_flagged(
    proba: np.ndarray, static_index: np.ndarray, unflag_confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply the relabel rule to flagged years with probabilities ``proba (M, C)``.

    Returns ``(class_index (M,), changed (M,) bool, confidence (M,))``; see the module docstring.
    """
    rows = np.arange(len(proba))
    p_static = proba[rows, static_index]
    keep = p_static >= unflag_confidence
    others = proba.copy()
    others[rows, static_index] = -1.0
    new = others.argmax(1)
    klass = np.where(keep, static_index, new)
    conf = np.where(keep, p_static, proba[rows, new])
    return klass, ~keep, conf
