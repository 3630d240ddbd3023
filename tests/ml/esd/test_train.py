"""A short ESDNet training run on real Mato Grosso samples lowers the loss; the split keeps locations apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml.esd.datasets import samples_training_set
from ml.esd.train import TrainConfig, phenology_targets, train_model
from ml.samples import load_samples, location_holdout

BANDS = ("blue", "red", "nir", "mir")


def test_short_training_lowers_loss(shared_data: Path) -> None:
    data = samples_training_set(shared_data / "samples/matogrosso_modis_9classes.npz", BANDS, 0.3, 0)
    cfg = TrainConfig(bands=BANDS, epochs=5, batch_size=64, hidden=16, blocks=1, max_steps=40, seed=0)
    model, metrics = train_model(data, cfg, device="cpu")
    assert metrics["steps"] == 40
    assert metrics["loss_last"] < 0.8 * metrics["loss_first"]
    assert metrics["val_rows"] == int(data.is_test.sum()) > 0
    assert set(model.config.classes) == set(np.unique(data.label[~data.is_test]))
    # deterministic with a seed
    _, again = train_model(data, cfg, device="cpu")
    assert again["loss_last"] == metrics["loss_last"]


def test_location_split_is_shared_between_files(shared_data: Path) -> None:
    mt = load_samples(shared_data / "samples/matogrosso_modis_9classes.npz")
    ce = load_samples(shared_data / "samples/cerrado_modis_11classes.npz")
    t_mt = location_holdout(mt.lon, mt.lat, 0.3, 0)
    t_ce = location_holdout(ce.lon, ce.lat, 0.3, 0)
    test_keys = {(round(x, 4), round(y, 4)) for x, y in zip(mt.lon[t_mt], mt.lat[t_mt], strict=True)}
    train_keys = {(round(x, 4), round(y, 4)) for x, y in zip(ce.lon[~t_ce], ce.lat[~t_ce], strict=True)}
    assert not test_keys & train_keys  # no Mato Grosso test location is a Cerrado training location
    assert 0.25 < t_mt.mean() < 0.35


def test_phenology_targets_ndvi() -> None:
    v = np.full((1, 12, 4), 0.1, np.float32)
    v[0, 6, 2] = 0.5  # nir peak in July
    curves, stats, names = phenology_targets(v, BANDS)
    assert names == ["ndvi", "ndmi"]
    assert curves.shape == (1, 12, 2) and stats.shape == (1, 12)
    assert np.isclose(curves[0, 6, 0], (0.5 - 0.1) / 0.6)
