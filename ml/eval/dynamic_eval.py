"""Scoring dynamic (per-year) labels against real multi-year reference labels.

Used on the Mato Grosso demo, where many locations carry labels for several crop years: the dynamic
labels a method produces for the years *other* than the static label's year are compared with the
real labels of those years, next to the baseline that copies the static label to every year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score

Key = tuple[str, int]  # (location id, year)


@dataclass(frozen=True)
class DynamicScore:
    """Agreement of predicted per-year classes with the truth on held-out years."""

    n: int  # scored location-years
    oa: float  # overall accuracy
    kappa: float  # Cohen's kappa
    change_precision: (
        float  # of location-years predicted as changed (class != static), the share truly changed
    )
    change_recall: float  # of truly changed location-years, the share predicted as changed
    change_f1: float

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score_dynamic(
    predicted: Mapping[Key, str], truth: Mapping[Key, str], static: Mapping[str, str]
) -> DynamicScore:
    """Score ``predicted`` on the keys it shares with ``truth``; ``static`` maps location -> static class.

    A location-year is truly changed when its true class differs from the location's static class, and
    predicted changed when the predicted class differs from it.
    """
    keys = [k for k in truth if k in predicted and k[0] in static]
    if not keys:
        return DynamicScore(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
    y_true = np.array([truth[k] for k in keys])
    y_pred = np.array([predicted[k] for k in keys])
    s = np.array([static[k[0]] for k in keys])
    true_change, pred_change = y_true != s, y_pred != s
    tp = float((true_change & pred_change).sum())
    precision = tp / pred_change.sum() if pred_change.any() else 0.0
    recall = tp / true_change.sum() if true_change.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    labels = np.unique(np.concatenate([y_true, y_pred]))
    kappa = float(cohen_kappa_score(y_true, y_pred, labels=labels)) if labels.size > 1 else 1.0
    return DynamicScore(
        len(keys), float(accuracy_score(y_true, y_pred)), kappa, float(precision), float(recall), float(f1)
    )
