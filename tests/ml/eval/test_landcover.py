"""Land-cover classification from ESD codes vs raw monthly reflectance on held-out real locations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml.errors import SamplesError
from ml.eval.landcover import evaluate, few_shot, main, sample_features
from ml.samples import load_samples, split_by_location_hash

MT = "samples/matogrosso_modis_9classes.npz"


def test_features_shapes(shared_data: Path) -> None:
    s = load_samples(shared_data / MT).subset(np.arange(50))
    esd = sample_features(s, "esd")
    raw = sample_features(s, "raw")
    assert esd.X.shape == (50, 72) and raw.X.shape == (50, 48)
    assert esd.bands == raw.bands == ("blue", "red", "nir", "mir")
    assert set(np.unique(esd.X)) <= set(np.arange(-4, 5) / 4) | set(np.arange(-2, 3) / 2)  # FSQ grid
    with pytest.raises(SamplesError):
        sample_features(s, "pixels")


def test_few_shot_per_class() -> None:
    y = np.array(["a"] * 30 + ["b"] * 5)
    idx = few_shot(y, 10, 0)
    assert (y[idx] == "a").sum() == 10 and (y[idx] == "b").sum() == 5


def test_held_out_10_shot_esd_and_raw(shared_data: Path) -> None:
    train, test = split_by_location_hash(load_samples(shared_data / MT), 0.3, 0)
    esd = evaluate(train, test, "esd", "rf", shots=10, seed=0)
    raw = evaluate(train, test, "raw", "rf", shots=10, seed=0)
    assert esd["n_train"] == raw["n_train"] == 90 and esd["n_test"] == len(test)
    assert len(esd["confusion"]) == len(esd["classes"]) == 9
    assert sum(map(sum, esd["confusion"])) == len(test)
    assert esd["oa"] > 0.75 and raw["oa"] > 0.6
    assert 0 < esd["kappa"] <= 1


def test_split_cli(tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(
        ["split", str(shared_data / MT), "--test-fraction", "0.3", "--seed", "0", "--out-dir", str(tmp_path)]
    )
    out = json.loads(capsys.readouterr().out)
    train = load_samples(out["train"]["path"])
    test = load_samples(out["test"]["path"])
    assert len(train) + len(test) == 1687
    assert not set(zip(train.lon, train.lat, strict=True)) & set(zip(test.lon, test.lat, strict=True))
