"""Reviews in TasGen: answers refit stage 2 (new classes included), reviewed years keep their answer,
and the simulated reviewer's loop. Real Mato Grosso MODIS rows (Forest, Pasture, Soy_Corn)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ml.errors import TasGenError
from ml.eval.cases import ProtocolCase
from ml.eval.simulated_review import simulate_reviews
from ml.samples import SampleSet
from ml.tasgen import UNKNOWN
from ml.tasgen.pipeline import apply_tasgen, fit_tasgen, refit_with_reviews
from ml.tasgen.series import SampleSeries

from .conftest import SMALL, one_year_series


@pytest.fixture(scope="module")
def new_class_case(mt9: SampleSet) -> tuple[SampleSeries, np.ndarray]:
    """Forest and Pasture rows labelled as such, plus Soy_Corn rows whose static label says Pasture:
    a change to a class the label set does not have. Returns the series and the truth."""
    s = one_year_series(mt9, ("Forest", "Pasture", "Soy_Corn"), 60, seed=3)
    truth = s.static_class.copy()
    static = np.where(truth == "Soy_Corn", "Pasture", truth)
    return replace(s, static_class=static), truth


def test_reviews_teach_stage_2_a_class_the_label_set_lacks(new_class_case) -> None:
    series, truth = new_class_case
    model = fit_tasgen(series, SMALL, seed=0)
    before = apply_tasgen(model, series, attribute=False)
    assert "Soy_Corn" not in set(before.klass[:, 0])
    soy = np.flatnonzero(truth == "Soy_Corn")
    reviews = np.full(series.valid.shape, "", dtype=object)
    reviews[soy[:10], 0] = "Soy_Corn"
    reviews[np.flatnonzero(truth == "Forest")[:2], 0] = "Forest"
    reviews = reviews.astype(str)
    refit = refit_with_reviews(model, series, reviews, seed=0)
    assert refit.extra_classes == ("Soy_Corn",) and refit.all_classes[-1] == "Soy_Corn"
    after = apply_tasgen(refit, series, attribute=False, reviews=reviews)
    # every reviewed year keeps its answer, with confidence 1
    done = reviews != ""
    assert np.array_equal(after.klass[done], reviews[done]) and np.all(after.confidence[done] == 1.0)
    assert np.all(after.changed[soy[:10], 0])
    # many unreviewed Soy_Corn years now read as Soy_Corn (changed from Pasture), although 45 % of the
    # "Pasture" labels are Soy_Corn here (stage 2 first learnt them as Pasture)
    rest = soy[10:]
    assert (after.klass[rest, 0] == "Soy_Corn").mean() >= 0.35 > (before.klass[rest, 0] == "Soy_Corn").mean()
    # the reviews enter the review value as -inf: never queued again
    value = after.review_value(reviewed=done)
    assert np.isneginf(value[done]).all() and np.isfinite(value[~done]).all()


def test_bad_reviews_are_clear_errors(new_class_case) -> None:
    series, _ = new_class_case
    model = fit_tasgen(series, replace(SMALL, rounds=1), seed=0)
    bad = np.full(series.valid.shape, "", dtype=object)
    bad[0, 0] = "Never-seen"
    with pytest.raises(TasGenError, match="refit_with_reviews first"):
        apply_tasgen(model, series, attribute=False, reviews=bad.astype(str))
    with pytest.raises(TasGenError, match="reviews must be"):
        refit_with_reviews(model, series, np.full((2, 2), ""), seed=0)
    blank = np.full(series.valid.shape, "", dtype=object)
    blank[0, 0] = "  "
    with pytest.raises(TasGenError, match="empty class name"):
        refit_with_reviews(model, series, blank.astype(str), seed=0)
    # an answer "unknown" is kept for its year but teaches stage 2 nothing
    unk = np.full(series.valid.shape, "", dtype=object)
    unk[0, 0] = UNKNOWN
    refit = refit_with_reviews(model, series, unk.astype(str), seed=0)
    assert refit.extra_classes == ()
    assert apply_tasgen(refit, series, attribute=False, reviews=unk.astype(str)).klass[0, 0] == UNKNOWN


def test_simulated_reviewer_answers_with_the_truth_and_helps(new_class_case) -> None:
    series, truth = new_class_case
    n = series.n_samples
    fold = np.arange(n) % 2
    case = ProtocolCase(series, truth[:, None].astype(str), fold, np.zeros(n, dtype=np.int64))
    models = {f: fit_tasgen(series.subset(fold != f), SMALL, seed=0) for f in (0, 1)}
    curve = simulate_reviews(case, models, [0, 20], "uncertainty", seed=0)
    rand = simulate_reviews(case, models, [0, 20], "random", seed=0)
    assert [c["reviews"] for c in curve] == [0.0, 20.0] == [c["reviews"] for c in rand]
    assert curve[0] == rand[0]  # same models, nothing answered yet
    assert curve[1]["relabel_oa"] > curve[0]["relabel_oa"]
    assert curve[1]["change_f1"] >= rand[1]["change_f1"]
    with pytest.raises(TasGenError, match="query"):
        simulate_reviews(case, models, [10], "oracle", seed=0)
