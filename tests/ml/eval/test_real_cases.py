"""Real-change protocol cases: dtwSat Mato Grosso labels of several crop years, real stable series."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml.eval.cases import Prediction, score
from ml.eval.protocols import static_year_classifier
from ml.eval.real_cases import default_dtwsat_cube, dtwsat_case, stable_case
from ml.samples import load_samples
from ml.tasgen.__main__ import main
from tests.ml.tasgen.conftest import CERRADO_MY, MT9


@pytest.fixture(scope="module")
def dtwsat():
    if not default_dtwsat_cube().is_dir():
        pytest.fail(f"shared data not found at {default_dtwsat_cube()}; set ESD_SHARED_DATA")
    return dtwsat_case(seed=0)


def test_dtwsat_case_scores_the_real_labels_of_other_crop_years(dtwsat) -> None:
    case = dtwsat
    s = case.series
    s.validate()
    assert s.years == (2008, 2009, 2010, 2011, 2012, 2013)
    assert s.n_samples == 245 and set(s.reference_year.tolist()) == {2012}
    assert set(s.static_class) == {"Cotton-fallow", "Forest", "Soybean-cotton", "Soybean-millet"}
    scored = case.scored_mask
    assert int(scored.sum()) == 267 and not scored[:, s.years.index(2012)].any()
    changed = (case.truth != s.static_class[:, None]) & scored
    assert int(changed.sum()) == 77 and set(case.truth[changed]) == {"Soybean-maize"}
    assert np.all(case.truth[scored] != "")
    # the monthly composites are real reflectances / indices (ndvi in [-1, 1], red in [0, 1])
    v = s.values[s.valid]
    assert np.all(np.abs(v[..., 0]) <= 1.0) and 0.0 <= float(np.median(v[..., 2])) <= 0.3
    assert not np.array_equal(dtwsat_case(seed=1).fold, case.fold)


def test_static_copy_and_truth_scores_on_the_scored_years_only(dtwsat) -> None:
    case = dtwsat
    s = case.series
    copy = np.where(s.valid, s.static_class[:, None], "")
    got = score(case, Prediction(copy, np.zeros(s.valid.shape, dtype=bool)))
    assert got["evaluated_sample_years"] == 267
    assert got["relabel_oa"] == pytest.approx(190 / 267) and got["change_recall"] == 0.0
    # flagging everything: recall 1, precision 77/267, every stable year a false change
    all_flagged = score(case, Prediction(np.full(s.valid.shape, "unknown"), s.valid.copy()))
    assert all_flagged["change_recall"] == 1.0 and all_flagged["false_change_rate"] == 1.0
    assert all_flagged["change_precision"] == pytest.approx(77 / 267)


def test_stable_case_scores_only_other_years_of_constant_multi_year_locations() -> None:
    for path in (CERRADO_MY, MT9):
        case = stable_case(load_samples(path), seed=0)
        s = case.series
        s.validate()
        scored = case.scored_mask
        assert scored.any()
        assert not scored[np.arange(s.n_samples), s.reference_index].any()
        assert np.all(case.truth[scored] == np.broadcast_to(s.static_class[:, None], scored.shape)[scored])
        assert np.all(s.valid[scored.any(1)].sum(1) >= 2)
    mt = stable_case(load_samples(MT9), seed=0)
    assert (mt.series.valid.sum(1) == 1).sum() > mt.scored_mask.any(1).sum()  # single-year rows train


def test_static_year_classifier_pays_on_real_stable_series() -> None:
    """The baseline of the issue: trained on the reference years, it calls stable years changed."""
    case = stable_case(load_samples(CERRADO_MY), seed=0)
    s = case.series
    v = s.values[s.valid]
    mean, std = v.mean(axis=(0, 1)), v.std(axis=(0, 1))
    tr = case.fold == 0
    assert case.scored is not None
    pred = static_year_classifier(s.subset(tr), s.subset(~tr), mean, std, seed=0)
    got = score(
        case.__class__(
            s.subset(~tr), case.truth[~tr], case.fold[~tr], case.switch_year[~tr], case.scored[~tr]
        ),
        pred,
    )
    assert got["evaluated_sample_years"] > 100
    assert got["false_change_rate"] > 0.05


def test_cli_stable_needs_a_sample_file(capsys) -> None:
    assert main(["evaluate", "--protocol", "stable"]) == 2
    assert "--samples" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_evaluate_dtwsat_one_development_seed(capsys) -> None:
    assert main(["evaluate", "--protocol", "dtwsat", "--seeds", "1", "--first-seed", "100"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["evaluated_sample_years"] == 267
    assert "static_year_forest" in result["baselines"] and result["cube"].endswith("lucc_MT_2007_2013")
    assert result["baselines"]["static"]["change_recall"] == 0.0


def test_cli_rejects_bad_review_budgets(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--protocol", "dtwsat", "--reviews", "10,x"])
    assert "comma-separated integers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--protocol", "dtwsat", "--reviews", "10", "--query", "oracle"])
