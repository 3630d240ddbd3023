"""ml.array_state: fitted scikit-learn classifiers stored as plain arrays predict exactly as before."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from ml.array_state import estimator_arrays, estimator_from_arrays, json_array, json_value, nest, part
from ml.atomic import save_npz_atomic
from ml.errors import ModelError
from ml.tasgen.relabel import Relabeler, fit_relabeler


def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any use of pickle to read fails the test from here on."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a stored model was unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)


def round_trip(arrays: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    save_npz_atomic(path, **arrays)
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def tiny(n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(60) % n_classes
    x = (rng.normal(size=(60, 7)) + labels[:, None]).astype(np.float32)
    return x, labels, (rng.normal(size=(25, 7)) + 1).astype(np.float32)


@pytest.mark.parametrize("kind", ["logistic", "forest"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_stored_classifier_predicts_the_same_probabilities(
    kind: str, n_classes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, labels, new = tiny(n_classes)
    fitted = fit_relabeler(x, labels, n_classes + 1, seed=0, n_trees=7, kind=kind, groups=np.arange(60) // 3)
    assert len(fitted.crossfit) == 60
    arrays = round_trip(fitted.to_arrays(), tmp_path / "m.npz")
    assert not any(a.dtype.hasobject for a in arrays.values())
    no_unpickling(monkeypatch)
    loaded = Relabeler.from_arrays(arrays)
    assert type(loaded.model) is type(fitted.model) and loaded.n_classes == n_classes + 1
    for rows in (x, new):  # training rows (out-of-fold probabilities) and new rows
        for crossfit in (True, False):
            assert np.array_equal(loaded.proba(rows, crossfit), fitted.proba(rows, crossfit))
    assert list(loaded.crossfit) == list(fitted.crossfit)  # digests in order, trailing zero bytes kept
    assert all(np.array_equal(loaded.crossfit[d], p) for d, p in fitted.crossfit.items())


def test_unknown_types_and_bad_arrays_are_model_errors() -> None:
    with pytest.raises(ModelError, match="cannot store a dict"):
        estimator_arrays({})
    x, labels, _ = tiny(2)
    arrays = estimator_arrays(fit_relabeler(x, labels, 2, seed=0, kind="logistic").model)
    with pytest.raises(ModelError, match="'os.system' is not one of"):
        estimator_from_arrays({**arrays, "type": np.asarray("os.system")})
    with pytest.raises(ModelError, match="cannot be rebuilt"):
        estimator_from_arrays({k: v for k, v in arrays.items() if k != "steps"})


def test_nest_part_and_json_values() -> None:
    arrays = nest("a.", {"x": np.arange(2), "y.z": np.ones(1)})
    assert sorted(arrays) == ["a.x", "a.y.z"] and sorted(part(arrays, "a.y.")) == ["z"]
    value = {"k": 1.5, "n": np.int64(3), "s": "balanced", "none": None}
    assert json_value(json_array(value)) == {"k": 1.5, "n": 3, "s": "balanced", "none": None}
