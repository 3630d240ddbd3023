from __future__ import annotations

import numpy as np
import pytest

from ml.errors import TasGenError
from ml.tasgen.detect import calibrate_thresholds, change_years, flag_anomalies
from ml.tasgen.pipeline import TasGenConfig, TasGenModel, fit_tasgen
from ml.tasgen.relabel import fit_relabeler, relabel_flagged, relabel_years, year_features
from ml.tasgen.series import SampleSeries


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


def test_stage2_rule_flag_lowers_the_bar_for_a_change() -> None:
    proba = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.1, 0.2, 0.7], [0.1, 0.2, 0.7], [0.9, 0.1, 0.0]])
    static = np.array([0, 0, 0, 0, 0])
    flagged = np.array([True, False, True, False, True])
    k, changed, conf = relabel_years(proba, static, flagged, unflag_confidence=0.6, override_confidence=0.2)
    # flagged: p(static) 0.5 < 0.6 -> changed; unflagged: 0.5 >= 0.2 -> kept; 0.1 < 0.2 -> changed
    assert changed.tolist() == [True, False, True, True, False]
    assert k.tolist() == [1, 0, 2, 2, 0]
    assert conf.tolist() == pytest.approx([0.5, 0.5, 0.7, 0.7, 0.9])
    # override 0: only flagged years can change (the rule the baselines' changed years get)
    _, only_flagged, _ = relabel_years(proba, static, flagged, 0.6, 0.0)
    assert only_flagged.tolist() == [True, False, True, False, False]


@pytest.mark.parametrize("kind", ["logistic", "forest"])
def test_relabeler_needs_two_classes_and_predicts_known_columns(kind: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    with pytest.raises(TasGenError, match="at least 2 classes"):
        fit_relabeler(x, np.zeros(40, dtype=int), n_classes=3, seed=0, kind=kind)
    y = np.where(x[:, 0] > 0, 2, 0)
    r = fit_relabeler(x, y, n_classes=3, seed=0, n_trees=20, kind=kind)
    p = r.proba(x)
    assert p.shape == (40, 3)
    assert np.all(p[:, 1] == 0)
    assert (p.argmax(1) == y).mean() > 0.9
    with pytest.raises(TasGenError, match="relabel kind must be one of"):
        fit_relabeler(x, y, n_classes=3, seed=0, kind="svm")


def test_training_years_get_out_of_fold_probabilities(mt_model: TasGenModel, mt_series: SampleSeries) -> None:
    """Real Mato Grosso rows: the fit's own stable years are judged by cross-fitted probabilities."""
    x = mt_model.standardize(mt_series.values[:, 0])
    feats = year_features(x)
    cls = mt_model.class_index(mt_series.static_class)
    rel = mt_model.relabeler
    oof, insample = rel.proba(feats), rel.proba(feats, crossfit=False)
    trained = np.array([not np.allclose(a, b) for a, b in zip(oof, insample, strict=True)])
    assert trained.mean() > 0.7  # most reference years are stable, hence training rows
    rows = np.arange(len(cls))
    # in-sample probabilities of the static class are optimistic; out-of-fold ones are lower
    assert oof[rows, cls][trained].mean() < insample[rows, cls][trained].mean() - 0.01
    # held-out accuracy of stage 2 on these three classes is still high
    assert (oof.argmax(1) == cls)[trained].mean() > 0.8
    # rows the classifier never saw (shifted values) get the plain model's probabilities
    other = feats + 0.01
    np.testing.assert_allclose(rel.proba(other), rel.proba(other, crossfit=False))


def test_unknown_stage2_model_is_a_clear_error(mt_series: SampleSeries) -> None:
    with pytest.raises(TasGenError, match="relabel_model must be one of"):
        fit_tasgen(mt_series, TasGenConfig(relabel_model="svm"))


def test_persistence_carries_a_change_to_later_years_stage2_prefers_as_new_class() -> None:
    from ml.tasgen.pipeline import _persist

    valid = np.array([[True, True, True, False, True, True]])
    klass = np.array([[0, 0, 1, -1, 0, 0]])
    changed = np.array([[False, False, True, False, False, False]])
    conf = np.zeros((1, 6))
    # stage-2 probabilities of the 5 valid years (row-major): year 4 prefers class 1, year 5 class 0
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.7, 0.3]])
    _persist(klass, changed, conf, proba, valid, np.array([0]), np.array([0]))
    assert klass.tolist() == [[0, 0, 1, -1, 1, 0]]
    assert changed.tolist() == [[False, False, True, False, True, False]]
    assert conf[0, 4] == pytest.approx(0.6)
