"""Open-set rule (``unknown``) and the review value / queue order, on real Mato Grosso rows and tiny arrays."""

from __future__ import annotations

import numpy as np
import pytest

from ml.errors import TasGenError
from ml.samples import SampleSet
from ml.tasgen import UNKNOWN, is_unknown, review_order, review_value
from ml.tasgen.openset import DEFAULT_TARGET_THRESHOLD, class_novelty, fit_class_reference, unlike_target
from ml.tasgen.relabel import year_features

from .conftest import one_year_series


def _features(
    mt9: SampleSet, classes: tuple[str, ...], per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    s = one_year_series(mt9, classes, per_class, seed)
    vals = s.values[:, 0]
    mean, std = vals.mean(axis=(0, 1)), vals.std(axis=(0, 1))
    return year_features(((vals - mean) / std).astype(np.float32)), s.static_class


def test_unknown_constant_is_exported() -> None:
    assert UNKNOWN == "unknown"


def test_a_class_missing_from_the_label_set_reads_as_unknown(mt9: SampleSet) -> None:
    """Rows of a real class absent from the reference (Forest) are unknown far more often than rows of known classes."""
    feats, labels = _features(mt9, ("Forest", "Soy_Corn", "Pasture"), 60, seed=1)
    known = ("Soy_Corn", "Pasture")
    idx = np.array([known.index(c) if c in known else -1 for c in labels])
    train = np.zeros(len(labels), dtype=bool)
    for c in range(len(known)):
        train[np.flatnonzero(idx == c)[:40]] = True
    ref = fit_class_reference(feats[train], idx[train], len(known))
    test = ~train
    nov = class_novelty(ref, feats[test])
    # a Forest row is given the static class Pasture: a change to a class the label set does not have
    static = np.where(idx[test] >= 0, idx[test], 1)
    unk = is_unknown(nov, static, threshold=3.0)
    forest = labels[test] == "Forest"
    assert unk[forest].mean() >= 0.8
    assert unk[~forest].mean() <= 0.2
    # its own rows are measured leave-one-out, not at distance 0
    own = class_novelty(ref, feats[train])
    assert np.median(own[np.arange(train.sum()), idx[train]]) == pytest.approx(0.0, abs=0.5)


def test_unknown_needs_unlike_static_and_every_class() -> None:
    nov = np.array([[5.0, 5.0], [5.0, 0.5], [0.5, 5.0], [2.0, 2.0]])
    static = np.array([0, 0, 0, 1])
    assert is_unknown(nov, static, threshold=3.0).tolist() == [True, False, False, False]
    with pytest.raises(TasGenError, match="do not match"):
        is_unknown(nov, static[:2])


def test_a_change_to_a_class_missing_from_the_label_set_is_named_unknown(mt9: SampleSet) -> None:
    """Changed years unlike the class they move to become unknown; changes to a known class keep it."""
    feats, labels = _features(mt9, ("Forest", "Soy_Corn", "Pasture"), 60, seed=2)
    known = ("Soy_Corn", "Pasture")
    idx = np.array([known.index(c) if c in known else -1 for c in labels])
    train = np.zeros(len(labels), dtype=bool)
    for c in range(len(known)):
        train[np.flatnonzero(idx == c)[:40]] = True
    ref = fit_class_reference(feats[train], idx[train], len(known))
    # every held-out Forest or Soy_Corn row was labelled Pasture and moved to Soy_Corn by stage 2
    test = ~train & (labels != "Pasture")
    nov = class_novelty(ref, feats[test])
    target = np.zeros(int(test.sum()), dtype=np.int64)
    unk = unlike_target(nov, target, np.ones(len(target), dtype=bool), DEFAULT_TARGET_THRESHOLD)
    forest = labels[test] == "Forest"
    assert unk[forest].mean() >= 0.8
    assert unk[~forest].mean() <= 0.2
    # a year that did not change is never made unknown by this rule, whatever its novelty
    assert not unlike_target(nov, target, np.zeros(len(target), dtype=bool)).any()


def test_unlike_target_ignores_unmeasurable_classes_and_checks_shapes() -> None:
    nov = np.array([[0.5, np.inf], [9.0, np.inf], [9.0, 1.0]])
    moved = np.array([True, True, True])
    assert unlike_target(nov, np.array([0, 1, 0]), moved, 3.0).tolist() == [False, False, True]
    assert unlike_target(nov, np.array([1, 0, 1]), moved, 3.0).tolist() == [False, True, False]
    with pytest.raises(TasGenError, match="do not match"):
        unlike_target(nov, np.array([0, 1]), moved)


def test_repeated_reference_rows_count_once(mt9: SampleSet) -> None:
    """A real year used by several samples (as in the splice protocol) does not collapse its class's spread."""
    feats, labels = _features(mt9, ("Soy_Corn", "Pasture"), 40, seed=3)
    idx = (labels == "Pasture").astype(np.int64)
    once = fit_class_reference(feats, idx, 2)
    thrice = fit_class_reference(np.concatenate([feats] * 3), np.concatenate([idx] * 3), 2)
    assert np.allclose(thrice.median, once.median) and np.allclose(thrice.sigma, once.sigma)
    assert (once.sigma > 0.01).all()
    assert [len(r) for r in thrice.rows] == [len(r) for r in once.rows]


def test_review_value_orders_unknown_then_uncertain_then_sure() -> None:
    margin = np.array([-6.0, 0.0, 6.0, 6.0, 5.0])
    p_static = np.array([0.98, 0.5, 0.02, 0.95, 0.01])
    unknown = np.array([False, False, False, False, True])
    v = review_value(margin, p_static, unknown=unknown)
    order = review_order(v)
    assert order[0] == 4  # the unknown year first
    assert order[1] in (1, 3)  # 50/50 and the disagreeing stages before the sure ones
    assert set(order[-2:]) == {0, 2}  # sure stable and sure change last
    assert v[3] > v[2]  # stage 1 flags, stage 2 is sure it is the static class: worth a look


def test_reviewed_years_are_never_queued_again() -> None:
    v = review_value(np.zeros(4), np.full(4, 0.5), reviewed=np.array([True, False, True, False]))
    assert np.isneginf(v[[0, 2]]).all()
    assert sorted(review_order(v).tolist()) == [1, 3]


def test_diverse_order_spreads_a_batch_over_distinct_cases() -> None:
    """Ten near-copies of one case with the top values do not fill the first picks; ten distinct cases do."""
    rng = np.random.default_rng(0)
    distinct = rng.normal(0, 10.0, (10, 3))  # ten distinct cases
    feats = np.concatenate([rng.normal(0, 0.01, (10, 3)), distinct])
    value = np.concatenate([np.full(10, 1.0), np.full(10, 0.8)])
    plain = review_order(value, limit=5)
    diverse = review_order(value, feats, limit=5, diversity=0.5)
    assert (plain < 10).all()
    assert diverse[0] < 10 and (diverse[1:] >= 10).all()
    assert len(set(diverse.tolist())) == 5


def test_review_value_rejects_bad_shapes() -> None:
    with pytest.raises(TasGenError, match="p_static"):
        review_value(np.zeros(3), np.zeros(2))
    with pytest.raises(TasGenError, match="features"):
        review_order(np.zeros(3), np.zeros((2, 2)))
