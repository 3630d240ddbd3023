"""ESDNet shapes, the FSQ codec inside the model, checkpoints and the shipped models on real samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ml.errors import ModelError
from ml.esd.codec import indices_to_codes, indices_to_codes_torch
from ml.esd.composite import composite_samples
from ml.esd.model import (
    ESDNet,
    ESDNetConfig,
    decode_indices,
    encode_series,
    load_model,
    model_checkpoint,
    model_from_checkpoint,
)
from ml.samples import load_samples


def _model() -> ESDNet:
    torch.manual_seed(0)
    return ESDNet(ESDNetConfig(classes=("a", "b", "c"), pheno_dim=2, pheno_stats=12)).eval()


def test_shapes_and_codec_round_trip() -> None:
    m = _model()
    x = torch.rand(5, 12, 4) * 0.5
    out = m(x)
    assert out.recon.shape == (5, 12, 4)
    assert out.codes.shape == (5, 12, 6)
    assert out.indices.shape == (5, 12)
    assert out.logits is not None and out.logits.shape == (5, 3)
    assert out.pheno is not None and out.pheno.shape == (5, 12, 2)
    assert out.pheno_stats is not None and out.pheno_stats.shape == (5, 12)
    assert int(out.indices.max()) < 64000
    # the codes FSQ gives back are exactly the codes its indices decode to (torch and numpy paths)
    assert torch.equal(indices_to_codes_torch(out.indices), out.codes)
    np.testing.assert_array_equal(indices_to_codes(out.indices.numpy()), out.codes.detach().numpy())
    # decoding the indices gives the same reconstruction as the forward pass
    dec = m.decode_indices(out.indices)
    torch.testing.assert_close(dec, m.scale_out(out.recon))


def test_wrong_band_count_raises() -> None:
    with pytest.raises(ModelError):
        _model()(torch.rand(2, 12, 3))


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    m = _model()
    path = tmp_path / "m.pt"
    torch.save(model_checkpoint(m, 3, {"val": {"mae": np.float32(0.1)}}), path)
    m2, meta = load_model(path)
    assert meta["bands"] == ("blue", "red", "nir", "mir") and meta["step"] == 3
    x = torch.rand(4, 12, 4) * 0.4
    assert torch.equal(m.encode(x)[1], m2.encode(x)[1])
    with pytest.raises(ModelError):
        model_from_checkpoint({"config": {}})


@pytest.mark.parametrize(
    ("file", "bands"),
    [
        ("matogrosso_modis_9classes.npz", ("blue", "red", "nir", "mir")),
        ("matogrosso_modis_ndvi_4classes.npz", ("ndvi",)),
    ],
)
def test_shipped_models_reconstruct_real_samples(
    shared_data: Path, file: str, bands: tuple[str, ...]
) -> None:
    s = load_samples(shared_data / "samples" / file)
    model, meta = load_model(s.bands)  # extra bands (evi, ndvi) are ignored
    assert tuple(meta["bands"]) == bands
    comp = composite_samples(s.subset(np.arange(200)), bands)
    idx = encode_series(model, comp.values, comp.valid)
    assert idx.shape == (200, 12) and idx.dtype == np.uint16
    recon = decode_indices(model, idx)
    assert recon.shape == (200, 12, len(bands))
    lo, hi = meta["clip"]
    assert np.abs(recon - np.clip(comp.values, lo, hi)).mean() < 0.03
    # nodata rows (no valid month) encode to all-zero indices
    none_valid = np.zeros((1, 12), bool)
    assert not encode_series(model, comp.values[:1], none_valid).any()


def test_evaluate_cli_held_out(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from ml.esd.evaluate import main

    main(
        [
            "--samples",
            str(shared_data / "samples/matogrosso_modis_ndvi_4classes.npz"),
            "--test-fraction",
            "0.3",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert out["bands"] == ["ndvi"] and out["held_out_only"] and 0 < out["rows"] < 961
    assert out["mae"] < 0.03 and out["cc"] > 0.95 and set(out["per_band"]) == {"ndvi"}
    assert out["bytes_per_pixel_year"]["encoded"] == 26 and out["bytes_per_pixel_year"]["raw_int16"] == 24
    assert out["vs_observations"]["decoded"]["mae"] < 0.05
