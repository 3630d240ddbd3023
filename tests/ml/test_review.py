"""The review queue's rules on tiny arrays: the label's own year, reasons, review values, queue order."""

from __future__ import annotations

import numpy as np

from ml.review import (
    REASON_ANSWERED,
    REASON_CHANGED,
    REASON_LABEL,
    REASON_UNCERTAIN,
    REASON_UNKNOWN,
    keep_reference_year,
    queue_features,
    review_reason,
)
from ml.tasgen import UNKNOWN, review_order


def test_keep_reference_year_restores_the_label_and_reports_tasgen_class() -> None:
    # 3 samples x 3 years; reference years 1, 0, 2
    klass = np.array(
        [["Forest", "Pasture", "Pasture"], ["Soy", "Soy", "Cotton"], ["Soy", "Soy", ""]], dtype=object
    )
    changed = np.array([[False, True, True], [False, False, True], [False, False, False]])
    valid = np.array([[True, True, True], [True, True, True], [True, True, False]])
    static = np.array(["Forest", "Soy", "Soy"])
    out = keep_reference_year(klass, changed, static, np.array([1, 0, 2]), valid)
    # sample 0: TasGen relabeled its own year: the label is kept there, and reported
    assert list(out.klass[0]) == ["Forest", "Forest", "Pasture"]
    assert list(out.changed[0]) == [False, False, True]
    assert out.suggested[0] == "Pasture"
    # sample 1: agrees in its own year: untouched, nothing suggested
    assert list(out.klass[1]) == ["Soy", "Soy", "Cotton"] and out.suggested[1] == ""
    # sample 2: no data in its own year: nothing to restore or suggest
    assert list(out.klass[2]) == ["Soy", "Soy", ""] and out.suggested[2] == ""
    # inputs are not modified
    assert klass[0, 1] == "Pasture" and changed[0, 1]


def test_review_reason_order_of_precedence() -> None:
    assert review_reason(static="Soy", dynamic=UNKNOWN, confidence=0.9) == REASON_UNKNOWN
    assert review_reason(static="Soy", dynamic="Soy", confidence=0.9, suggested="Cotton") == REASON_LABEL
    assert review_reason(static="Soy", dynamic="Cotton", confidence=0.9) == REASON_CHANGED
    assert review_reason(static="Soy", dynamic="Soy", confidence=0.3) == REASON_UNCERTAIN
    assert review_reason(static="Soy", dynamic="Soy", confidence=0.9) == ""
    assert review_reason(static="Soy", dynamic="Soy", confidence=1.0, answered=True) == REASON_ANSWERED
    assert review_reason(static="Soy", dynamic="Cotton", confidence=1.0, answered=True) == REASON_CHANGED


def test_queue_features_make_copies_of_same_pair_and_year() -> None:
    f = queue_features([("A", "B"), ("A", "B"), ("A", "B"), ("C", "D")], [2010, 2010, 2011, 2010])
    d = ((f[:, None] - f[None]) ** 2).sum(-1)
    assert d[0, 1] == 0  # same pair, same year
    assert 0 < d[0, 2] < d[0, 3]  # same pair, another year: closer than another pair


def test_queue_features_with_review_order_spread_the_first_picks() -> None:
    # four near-equal "A -> B" cases of one year and one lower "C -> D": diversity brings C -> D up
    values = np.array([1.0, 0.99, 0.98, 0.97, 0.8])
    f = queue_features([("A", "B")] * 4 + [("C", "D")], [2010] * 5)
    assert list(review_order(values)) == [0, 1, 2, 3, 4]
    assert list(review_order(values, f, diversity=0.5))[:2] == [0, 4]
