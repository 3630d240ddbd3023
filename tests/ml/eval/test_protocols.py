from __future__ import annotations

import json

import numpy as np
import pytest

from ml.errors import TasGenError
from ml.eval.cases import Prediction, ProtocolCase, score
from ml.eval.protocols import prodes_case, splice_case, supervised_truth
from ml.samples import load_samples
from ml.tasgen.__main__ import main
from tests.ml.tasgen.conftest import CERRADO_MY, MT9, PRODES


def test_prodes_case_assigns_static_labels_as_the_protocol_says() -> None:
    s = load_samples(PRODES)
    case = prodes_case(s, seed=0)
    ser = case.series
    ser.validate()
    n_forest = int((s.label == "Forest").sum())
    n_pasture = int((s.label == "Pasture").sum())
    assert ser.n_samples == n_forest + n_pasture + round(0.25 * n_forest)
    assert int((ser.static_class == "Forest").sum()) == n_forest + round(0.25 * n_forest)
    truth = case.truth[ser.valid]
    changed = truth != np.repeat(ser.static_class, ser.valid.sum(1))
    assert changed.sum() == round(0.25 * n_forest)  # the deforestation samples, true class non-forest
    assert ser.valid.sum(1).tolist() == [1] * ser.n_samples
    # another seed draws another subset
    assert not np.array_equal(prodes_case(s, seed=1).series.values, ser.values)


def test_splice_cases_switch_class_at_the_recorded_year() -> None:
    for path in (CERRADO_MY, MT9):
        case = splice_case(load_samples(path), seed=0, n_samples=60)
        ser = case.series
        ser.validate()
        years = np.asarray(ser.years)
        for i in range(ser.n_samples):
            t = case.truth[i]
            if case.switch_year[i]:
                after = ser.valid[i] & (years >= case.switch_year[i])
                before = ser.valid[i] & (years < case.switch_year[i])
                assert np.all(t[after] != ser.static_class[i]) and after.any()
                assert np.all(t[before] == ser.static_class[i])
                assert ser.reference_year[i] < case.switch_year[i]
            else:
                assert np.all(t[ser.valid[i]] == ser.static_class[i])
        assert 0 < (case.switch_year > 0).mean() < 0.6


def test_score_of_the_truth_is_perfect_and_of_the_static_copy_has_no_change() -> None:
    case = splice_case(load_samples(CERRADO_MY), seed=1, n_samples=40)
    v = case.series.valid
    perfect = score(case, Prediction(case.truth, (case.truth != case.series.static_class[:, None]) & v))
    assert perfect["relabel_oa"] == 1.0 and perfect["change_f1"] == 1.0 and perfect["change_year_f1"] == 1.0
    static = np.where(v, case.series.static_class[:, None], "")
    copy = score(case, Prediction(static, np.zeros(v.shape, dtype=bool)))
    assert copy["change_recall"] == 0.0 and copy["relabel_oa"] < 1.0


def test_supervised_truth_reference_learns_the_true_classes_of_held_out_locations() -> None:
    """The ceiling reference: trained on fold 0's truth, it recovers fold 1's spliced classes far
    better than the static copy; a static class whose training years are all one class is copied."""
    case = splice_case(load_samples(CERRADO_MY), seed=3, n_samples=120)
    ser = case.series
    v = ser.valid
    mean = ser.values[v].mean(axis=(0, 1))
    std = ser.values[v].std(axis=(0, 1))
    train = case.fold == 0
    test_case = ProtocolCase(
        ser.subset(~train), case.truth[~train], case.fold[~train], case.switch_year[~train]
    )
    train_case = ProtocolCase(ser.subset(train), case.truth[train], case.fold[train], case.switch_year[train])
    pred = supervised_truth(train_case, test_case.series, mean, std)
    tv = test_case.series.valid
    assert pred.klass.shape == tv.shape and np.all(pred.klass[~tv] == "")
    assert np.array_equal(pred.changed, (pred.klass != test_case.series.static_class[:, None]) & tv)
    got = score(test_case, pred)
    static = np.where(tv, test_case.series.static_class[:, None], "")
    copy = score(test_case, Prediction(static, np.zeros(tv.shape, dtype=bool)))
    assert got["relabel_oa"] > copy["relabel_oa"] + 0.05 and got["change_f1"] > 0.5
    # a static class that never changes in training is copied to every test year
    stable_truth = np.where(train_case.series.valid, train_case.series.static_class[:, None], "")
    stable = ProtocolCase(train_case.series, stable_truth, train_case.fold, train_case.switch_year)
    copied = supervised_truth(stable, test_case.series, mean, std)
    assert np.array_equal(copied.klass, static) and not copied.changed.any()


def test_cli_rejects_unknown_protocol_file(tmp_path, capsys) -> None:
    bad = tmp_path / "x.npz"
    np.savez(bad, X=np.zeros((2, 3, 1)))
    assert main(["evaluate", "--samples", str(bad), "--protocol", "prodes"]) == 2
    assert "missing arrays" in capsys.readouterr().err
    with pytest.raises(TasGenError, match="no Forest samples"):
        prodes_case(load_samples(CERRADO_MY), seed=0)


@pytest.mark.slow
def test_cli_evaluate_prodes_default_run(capsys) -> None:
    assert main(["evaluate", "--samples", str(PRODES), "--protocol", "prodes"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result)[:8] == [
        "relabel_oa",
        "kappa",
        "change_precision",
        "change_recall",
        "change_f1",
        "false_change_rate",
        "evaluated_sample_years",
        "baselines",
    ]
    assert set(result["baselines"]) == {
        "static",
        "static_year_forest",
        "cosine_0.2",
        "cosine_best",
        "isolation_forest",
    }
    assert set(result["references"]) == {"supervised_truth"}
    assert len(result["seeds"]) == 10
    assert result["change_f1"] > result["baselines"]["static"]["change_f1"]


@pytest.mark.slow
def test_cli_run_writes_dynamic_samples(tmp_path, capsys) -> None:
    out = tmp_path / "dynamic.csv"
    assert main(["run", "--samples", str(CERRADO_MY), "--out", str(out), "--epochs", "40"]) == 0
    summary = json.loads(capsys.readouterr().out)
    lines = out.read_text().splitlines()
    assert len(lines) - 1 == summary["sample_years"] == len(load_samples(CERRADO_MY))
    assert lines[0].startswith("sample,year,static_class,class,changed")


@pytest.mark.slow
def test_cli_evaluate_splice_on_a_development_seed_beats_the_baselines(capsys) -> None:
    """Cerrado splice, one development seed (not a reported one), held-out locations."""
    args = ["evaluate", "--samples", str(CERRADO_MY), "--protocol", "splice"]
    assert main([*args, "--seeds", "1", "--first-seed", "100", "--splice-samples", "160"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"] == [100]
    base = result["baselines"]
    assert result["kappa"] > max(b["kappa"] for b in base.values())
    assert result["change_f1"] > max(b["change_f1"] for b in base.values()) + 0.1
