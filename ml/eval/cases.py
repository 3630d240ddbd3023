"""An evaluation case (static labels for TasGen and the truth) and the score of a prediction on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import cohen_kappa_score

from ml.tasgen.series import SampleSeries


@dataclass(frozen=True)
class ProtocolCase:
    """A protocol's input for TasGen plus the truth used for scoring."""

    series: SampleSeries  # static labels as the protocol assigns them
    truth: np.ndarray  # (N, Y) str true class per sample-year ("" where no data)
    fold: np.ndarray  # (N,) int 0/1 location fold; no location is in both folds
    switch_year: np.ndarray  # (N,) int year the class switches (0 for unchanged samples)
    scored: np.ndarray | None = None  # (N, Y) bool sample-years scored (None: every valid one); real-label
    # protocols score only the location-years with a label other than the static one

    @property
    def scored_mask(self) -> np.ndarray:
        """(N, Y) bool: the sample-years the metrics count."""
        return self.series.valid if self.scored is None else self.scored & self.series.valid


@dataclass(frozen=True)
class Prediction:
    """A method's output on a case, in the case's sample order."""

    klass: np.ndarray  # (N, Y) str
    changed: np.ndarray  # (N, Y) bool


def change_year_events(
    klass: np.ndarray, valid: np.ndarray, static: np.ndarray, ref: np.ndarray
) -> set[tuple[int, int]]:
    """(sample, year index) pairs where the class departs from the static class after the reference."""
    events: set[tuple[int, int]] = set()
    for i in range(len(klass)):
        prev = static[i]
        for j in range(ref[i] + 1, klass.shape[1]):
            if not valid[i, j]:
                continue
            if klass[i, j] != prev:
                events.add((i, j))
            prev = klass[i, j]
    return events


def prf(tp: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from true positives, predicted and true positives."""
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score(case: ProtocolCase, pred: Prediction) -> dict[str, float]:
    """Metrics over the scored sample-years (``case.scored_mask``; all valid ones by default).

    ``relabel_oa`` and ``kappa`` (class vs truth; an ``unknown`` class is never right), change
    precision, recall and F1 (a positive is a sample-year whose true class differs from the static
    class; a flag is a predicted class that differs, ``unknown`` included), ``false_change_rate``
    (flagged among the truly unchanged scored years), ``evaluated_sample_years``, and
    ``change_year_f1``: (sample, year) events where the class sequence departs after the reference
    year, predicted vs true (exact year).
    """
    s = case.series
    v = case.scored_mask
    t, k = case.truth[v], pred.klass[v]
    true_change = (case.truth != s.static_class[:, None]) & v
    pred_change = pred.changed & v
    p, r, f = prf(int((true_change & pred_change).sum()), int(pred_change.sum()), int(true_change.sum()))
    ev_t = change_year_events(case.truth, v, s.static_class, s.reference_index)
    ev_p = change_year_events(pred.klass, v, s.static_class, s.reference_index)
    _, _, fy = prf(len(ev_t & ev_p), len(ev_p), len(ev_t))
    kappa = float(cohen_kappa_score(t, k)) if len(np.unique(np.concatenate([t, k]))) > 1 else 0.0
    stable = v & ~true_change
    return {
        "relabel_oa": float(np.mean(t == k)) if len(t) else 0.0,
        "kappa": kappa,
        "change_precision": p,
        "change_recall": r,
        "change_f1": f,
        "change_year_f1": fy,
        "false_change_rate": float((pred_change & stable).sum() / max(int(stable.sum()), 1)),
        "evaluated_sample_years": float(v.sum()),
    }
