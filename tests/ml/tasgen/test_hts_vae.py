from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.errors import ModelError
from ml.tasgen.hts_vae import HTSVAE, HTSVAEConfig, negative_elbo, train_hts_vae
from ml.tasgen.series import SampleSeries


def _standardized(series: SampleSeries) -> tuple[np.ndarray, np.ndarray]:
    x = series.values[:, 0]
    x = (x - x.mean((0, 1))) / x.std((0, 1))
    cls = np.unique(series.static_class, return_inverse=True)[1]
    return x.astype(np.float32), cls


def test_forward_shapes(mt_series: SampleSeries) -> None:
    x, c = _standardized(mt_series)
    model = HTSVAE(HTSVAEConfig(n_dims=6, n_classes=3))
    out = model(torch.as_tensor(x[:5]), torch.as_tensor(c[:5]))
    assert out["recon"].shape == (5, 12, 6)
    assert out["cell_nll"].shape == (5, 12, 6)
    for k in ("nll", "kl1", "kl2"):
        assert out[k].shape == (5,)
    assert torch.all(out["kl1"] >= 0) and torch.all(out["kl2"] >= 0)
    assert model.score(x[:7], c[:7]).shape == (7,)


def test_a_training_step_lowers_the_negative_elbo(mt_series: SampleSeries) -> None:
    x, c = _standardized(mt_series)
    torch.manual_seed(0)
    model = HTSVAE(HTSVAEConfig(n_dims=6, n_classes=3))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, ct = torch.as_tensor(x), torch.as_tensor(c)
    before = model.score(x, c).mean()
    for _ in range(5):
        torch.manual_seed(1)
        loss = negative_elbo(model, xt, ct)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.score(x, c).mean() < before


def test_training_lowers_elbo_and_the_stored_arrays_round_trip(mt_series: SampleSeries) -> None:
    x, c = _standardized(mt_series)
    cfg = HTSVAEConfig(n_dims=6, n_classes=3, epochs=15)
    model, history = train_hts_vae(x, c, cfg, seed=0)
    assert len(history) == 15
    assert history[-1] < history[0]
    again = HTSVAE.from_arrays(model.to_arrays())
    assert again.config == cfg and np.array_equal(again.score(x, c), model.score(x, c))
    arrays = model.to_arrays()
    arrays["state.log_scale"] = arrays["state.log_scale"][:1]  # another architecture's weights
    with pytest.raises(ModelError, match="HTS-VAE state cannot be loaded"):
        HTSVAE.from_arrays(arrays)
    # deterministic for a seed
    model2, history2 = train_hts_vae(x, c, cfg, seed=0)
    assert np.allclose(history, history2)
