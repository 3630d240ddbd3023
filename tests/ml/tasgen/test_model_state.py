"""A fitted TasGen model stored as plain arrays (no pickle) gives bit-identical outputs when loaded."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.errors import TasGenError
from ml.tasgen.pipeline import TasGenModel, apply_tasgen, refit_with_reviews
from ml.tasgen.series import SampleSeries
from tests.ml.test_array_state import no_unpickling, round_trip


def same_outputs(a: TasGenModel, b: TasGenModel, series: SampleSeries) -> None:
    out_a, out_b = apply_tasgen(a, series, seed=3), apply_tasgen(b, series, seed=3)
    assert out_a.changed.any()  # the attribution (Gibbs on the HTS-VAE) is compared too
    for f in fields(out_a):
        va, vb = getattr(out_a, f.name), getattr(out_b, f.name)
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"), f.name
        else:
            assert va == vb, f.name


def test_stored_model_gives_identical_outputs_without_unpickling(
    mt_model: TasGenModel, mt_series: SampleSeries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = round_trip(mt_model.to_arrays(), tmp_path / "tasgen.npz")
    assert not any(a.dtype.hasobject for a in arrays.values())
    rng = torch.random.get_rng_state()
    no_unpickling(monkeypatch)
    loaded = TasGenModel.from_arrays(arrays)
    assert torch.equal(torch.random.get_rng_state(), rng)  # building the net did not move the RNG
    assert loaded.config == mt_model.config and loaded.history == mt_model.history
    assert loaded.classes == mt_model.classes and loaded.dim_names == mt_model.dim_names
    same_outputs(mt_model, loaded, mt_series)


def test_a_model_refitted_with_reviews_round_trips(
    mt_model: TasGenModel, mt_series: SampleSeries, tmp_path: Path
) -> None:
    """Reviews add a class outside the label set (``extra_classes``) and pad the out-of-fold rows."""
    reviews = np.full(mt_series.valid.shape, "", dtype=object)
    reviews[:6, 0] = "Soybean-maize"
    reviewed = refit_with_reviews(mt_model, mt_series, reviews.astype(str), seed=0)
    loaded = TasGenModel.from_arrays(round_trip(reviewed.to_arrays(), tmp_path / "reviewed.npz"))
    assert loaded.extra_classes == ("Soybean-maize",)
    same_outputs(reviewed, loaded, mt_series)


def test_other_formats_are_tasgen_errors(mt_model: TasGenModel) -> None:
    """What a cache of another version holds is refused with TasGenError (the app's cache miss)."""
    arrays = mt_model.to_arrays()
    with pytest.raises(TasGenError, match="format 'tasgen-model/0'"):
        TasGenModel.from_arrays({**arrays, "format": np.asarray("tasgen-model/0")})
    with pytest.raises(TasGenError, match="cannot be loaded"):
        TasGenModel.from_arrays({k: v for k, v in arrays.items() if not k.startswith("vae.state.fuse")})
