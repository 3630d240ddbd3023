"""TasGen stage 2: a classifier trained on the stable sample-years relabels the anomalous ones.

Stable sample-years (valid, not flagged by stage 1) carry their static class; a classifier on their
standardized monthly vectors learns every class (default: an L2-regularized multinomial logistic
regression on standardized features, ``kind="logistic"``; ``kind="forest"``: a random forest). Its
probability of the static class is the second, independent opinion on each year:

- a *flagged* year (stage 1: anomalous under its static class) whose static class gets a probability
  >= ``unflag_confidence`` is un-flagged (the detector's false alarm); otherwise it takes the most
  probable class *other than* the static one, with that class's probability as confidence;
- an *unflagged* year whose static class gets a probability < ``override_confidence`` changes too
  (to the most probable other class): the classifier is sure the year is another class even though
  the year is not unusual for the static class's HTS-VAE (``override_confidence = 0`` turns it off).

So the stage-1 flag lowers the bar for a change from ``override_confidence`` to
``unflag_confidence``. Probabilities of the years the classifier was trained on are *cross-fitted*
(:class:`Relabeler` keeps out-of-fold probabilities from a grouped K-fold over samples): a fit series
relabelled by its own model is judged as a held-out series would be, not by in-sample probabilities.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ml.array_state import estimator_arrays, estimator_from_arrays, nest, part
from ml.errors import TasGenError

RELABEL_KINDS = ("logistic", "forest")


def row_digests(features: np.ndarray) -> list[bytes]:
    """One 16-byte digest per feature row (identifies a training row again at apply time)."""
    rows = np.ascontiguousarray(features, dtype=np.float32)
    return [hashlib.blake2b(r.tobytes(), digest_size=16).digest() for r in rows]


@dataclass(frozen=True)
class Relabeler:
    """A fitted stage-2 classifier; column ``c`` of its probabilities is class ``classes[c]``."""

    model: Any  # fitted sklearn classifier (predict_proba, classes_) on (M, F) features, labels 0..C-1
    n_classes: int  # C, the number of classes of the TasGen model
    crossfit: dict[bytes, np.ndarray] = field(default_factory=dict)  # training-row digest -> (C,)
    # out-of-fold probabilities (empty when fitted without groups)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays: ``n_classes``, the out-of-fold probabilities (``crossfit.digest (K, 16)`` uint8,
        ``crossfit.proba (K, C)``, in the dict's order) and the classifier (``model.``, see
        :func:`ml.array_state.estimator_arrays`)."""
        digests = np.frombuffer(b"".join(self.crossfit), dtype=np.uint8).reshape(len(self.crossfit), 16)
        proba = np.stack(list(self.crossfit.values())) if self.crossfit else np.zeros((0, self.n_classes))
        return {
            "n_classes": np.asarray(self.n_classes),
            "crossfit.digest": digests,
            "crossfit.proba": proba,
            **nest("model.", estimator_arrays(self.model)),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Relabeler:
        digests = [d.tobytes() for d in arrays["crossfit.digest"]]
        crossfit = dict(zip(digests, np.array(arrays["crossfit.proba"]), strict=True))
        return cls(
            model=estimator_from_arrays(part(arrays, "model.")),
            n_classes=int(arrays["n_classes"]),
            crossfit=crossfit,
        )

    def _predict(self, features: np.ndarray) -> np.ndarray:
        out = np.zeros((len(features), self.n_classes))
        if len(features):
            out[:, self.model.classes_] = self.model.predict_proba(features)
        return out

    def proba(self, features: np.ndarray, crossfit: bool = True) -> np.ndarray:
        """(M, C) class probabilities; classes absent from the stable set get probability 0.

        With ``crossfit`` (default), rows identical to a training row get that row's out-of-fold
        probabilities instead of the (optimistic) in-sample ones.
        """
        out = self._predict(features)
        if crossfit and self.crossfit and len(features):
            for i, d in enumerate(row_digests(features)):
                oof = self.crossfit.get(d)
                if oof is not None:
                    out[i] = oof
        return out


def year_features(x: np.ndarray) -> np.ndarray:
    """(M, 12*D + 4*D) classifier features of standardized years ``x (M, 12, D)``.

    The flattened months plus each dimension's annual mean, standard deviation, minimum and maximum.
    """
    flat = x.reshape(x.shape[0], int(np.prod(x.shape[1:])))
    stats = np.concatenate([x.mean(1), x.std(1), x.min(1), x.max(1)], axis=1)
    return np.concatenate([flat, stats], axis=1).astype(np.float32)


def logistic_classifier(c: float) -> Pipeline:
    """Stage 2's logistic regression (standardized features, inverse L2 strength ``c``, balanced)."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, class_weight="balanced"))


def _classifier(kind: str, seed: int, n_trees: int, c: float) -> Any:
    if kind == "forest":
        return RandomForestClassifier(
            n_estimators=n_trees, min_samples_leaf=1, n_jobs=1, random_state=seed, class_weight="balanced"
        )
    if kind == "logistic":
        return logistic_classifier(c)
    raise TasGenError(f"relabel kind must be one of {list(RELABEL_KINDS)}, got {kind!r}")


def fit_relabeler(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    seed: int,
    n_trees: int = 200,
    kind: str = "logistic",
    c: float = 0.03,
    groups: np.ndarray | None = None,
    folds: int = 5,
) -> Relabeler:
    """Fit the stage-2 classifier on stable ``features (M, F)`` with class indices ``labels (M,)``.

    ``kind`` ``"logistic"`` (inverse L2 strength ``c``, balanced class weights) or ``"forest"``
    (``n_trees`` trees, balanced). With ``groups (M,)`` (the sample of each row) and ``folds >= 2``,
    out-of-fold probabilities of every training row are computed by a K-fold grouped by sample (all
    years of a sample in the same fold) and kept for :meth:`Relabeler.proba`.

    Raises :class:`TasGenError` when fewer than two classes have stable sample-years (nothing to
    relabel to) or ``kind`` is unknown.
    """
    present = np.unique(labels)
    if len(present) < 2:
        raise TasGenError(
            f"stage 2 needs stable sample-years of at least 2 classes, got {len(present)}; "
            "add labels of another class"
        )
    model = _classifier(kind, seed, n_trees, c).fit(features, labels)
    crossfit: dict[bytes, np.ndarray] = {}
    if groups is not None and folds >= 2:
        k = min(folds, len(np.unique(groups)))
        if k >= 2:
            oof = np.zeros((len(labels), n_classes))
            for tr, te in GroupKFold(k).split(features, labels, groups):
                if len(np.unique(labels[tr])) < 2:
                    oof[te] = Relabeler(model, n_classes)._predict(features[te])
                    continue
                part = _classifier(kind, seed, n_trees, c).fit(features[tr], labels[tr])
                oof[te] = Relabeler(part, n_classes)._predict(features[te])
            crossfit = dict(zip(row_digests(features), oof, strict=True))
    return Relabeler(model=model, n_classes=n_classes, crossfit=crossfit)


def relabel_flagged(
    proba: np.ndarray, static_index: np.ndarray, unflag_confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply the relabel rule to flagged years with probabilities ``proba (M, C)``.

    Returns ``(class_index (M,), changed (M,) bool, confidence (M,))``: the static class (unchanged)
    when its probability is >= ``unflag_confidence``, else the most probable other class.
    """
    return relabel_years(proba, static_index, np.ones(len(proba), dtype=bool), unflag_confidence, 0.0)


def relabel_years(
    proba: np.ndarray,
    static_index: np.ndarray,
    flagged: np.ndarray,
    unflag_confidence: float,
    override_confidence: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stage-2 rule (module docstring) for years with probabilities ``proba (M, C)``.

    A year changes when the probability of its static class is below ``unflag_confidence`` if it is
    ``flagged (M,)``, below ``override_confidence`` if not; it then takes the most probable other
    class. Returns ``(class_index (M,), changed (M,) bool, confidence (M,))``, the confidence being
    the probability of the returned class.
    """
    rows = np.arange(len(proba))
    p_static = proba[rows, static_index]
    bar = np.where(flagged, unflag_confidence, override_confidence)
    changed = p_static < bar
    others = proba.copy()
    others[rows, static_index] = -1.0
    new = others.argmax(1)
    klass = np.where(changed, new, static_index)
    conf = np.where(changed, proba[rows, new], p_static)
    return klass, changed, conf
