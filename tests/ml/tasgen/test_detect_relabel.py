from __future__ import annotations

import numpy as np
import pytest

from ml.errors import TasGenError
from ml.tasgen.detect import calibrate_thresholds, change_years, flag_anomalies
from ml.tasgen.relabel import fit_relabeler, relabel_flagged


def test_threshold_is_median_plus_k_robust_sigmas_and_ignores_outliers() -> None:
    normal = np.array([10.0, 11, 12, 13, 14, 15, 16])
    scores = np.concatenate([normal, [100.0, 200.0], normal + 20])
    cls = np.array([0] * 9 + [1] * 7)
    t = calibrate_thresholds(scores, cls, ("A", "B"), k=3.0)
    med_a = np.median(scores[:9])
    mad_a = np.median(np.abs(scores[:9] - med_a))
    assert t.threshold[0] == pytest.approx(med_a + 3 * 1.4826 * mad_a)
    assert t.threshold[1] == pytest.approx(33 + 3 * 1.4826 * 2)
    flags = flag_anomalies(scores, cls, t)
    assert flags.tolist() == [False] * 7 + [True, True] + [False] * 7
    assert not flag_anomalies(np.array([np.nan]), np.array([0]), t)[0]


def test_threshold_needs_three_scores_per_class() -> None:
    with pytest.raises(TasGenError, match="'B': 2 calibration scores"):
        calibrate_thresholds(np.arange(5.0), np.array([0, 0, 0, 1, 1]), ("A", "B"), k=3.0)


def test_change_years_skip_missing_years() -> None:
    klass = np.array([["F", "", "P", "P"], ["F", "F", "F", "F"], ["", "P", "F", ""]])
    assert change_years(klass, (2001, 2002, 2003, 2004)) == [[2003], [], [2003]]


def test_relabel_rule_unflags_confident_static_and_else_picks_best_other_class() -> None:
    proba = np.array([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    k, changed, conf = relabel_flagged(proba, np.array([0, 0, 2]), unflag_confidence=0.8)
    assert k.tolist() == [0, 1, 1]
    assert changed.tolist() == [False, True, True]
    assert conf.tolist() == pytest.approx([0.9, 0.3, 0.2])


def test_relabeler_needs_two_classes_and_predicts_known_columns() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    with pytest.raises(TasGenError, match="at least 2 classes"):
        fit_relabeler(x, np.zeros(40, dtype=int), n_classes=3, seed=0)
    y = np.where(x[:, 0] > 0, 2, 0)
    r = fit_relabeler(x, y, n_classes=3, seed=0, n_trees=20)
    p = r.proba(x)
    assert p.shape == (40, 3)
    assert np.all(p[:, 1] == 0)
    assert (p.argmax(1) == y).mean() > 0.9


def test_persistence_carries_a_change_to_later_years_the_forest_prefers_as_new_class() -> None:
    from ml.tasgen.pipeline import _persist

    valid = np.array([[True, True, True, False, True, True]])
    klass = np.array([[0, 0, 1, -1, 0, 0]])
    changed = np.array([[False, False, True, False, False, False]])
    conf = np.zeros((1, 6))
    # forest probabilities of the 5 valid years (row-major): year 4 prefers class 1, year 5 class 0
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.7, 0.3]])
    _persist(klass, changed, conf, proba, valid, np.array([0]), np.array([0]))
    assert klass.tolist() == [[0, 0, 1, -1, 1, 0]]
    assert changed.tolist() == [[False, False, True, False, True, False]]
    assert conf[0, 4] == pytest.approx(0.6)
