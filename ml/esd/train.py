"""Train ESDNet on real monthly composites: ``python -m ml.esd.train --samples FILE... --out weights.pt``.

Objectives, all on training locations only: reconstruction (smooth L1 in standardized units, with
random months dropped from the input and gap-filled, so the encoder learns cloudy years), land-cover
cross-entropy from the quantized codes (labelled rows), and phenology (index curves such as NDVI
and seasonal statistics: min, max, mean, std, peak month) from the codes. Validation rows are whole
locations held out by :func:`ml.samples.location_holdout` (raster pixels: 8 x 8 pixel blocks).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ml.errors import ModelError
from ml.esd.codec import STEPS
from ml.esd.composite import fill_gaps
from ml.esd.datasets import TrainingSet, concat, raster_training_set, samples_training_set
from ml.esd.evaluate import reconstruction_metrics
from ml.esd.model import ESDNet, ESDNetConfig, model_checkpoint
from ml.esd.rasters import DEMO_SOURCES

INDEX_BANDS = {"ndvi", "evi", "ndmi", "ndwi"}  # single-index inputs (range -1..1)


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run."""

    bands: tuple[str, ...] = ("blue", "red", "nir", "mir")  # model bands (selected from every source)
    epochs: int = 120  # passes over the training rows
    batch_size: int = 128  # rows per step
    lr: float = 3e-3  # AdamW peak learning rate (cosine decay to 5%)
    weight_decay: float = 1e-4  # AdamW weight decay
    hidden: int = 48  # Conv1D channels
    blocks: int = 2  # residual blocks per side
    w_class: float = 1.0  # weight of the land-cover cross-entropy (0: reconstruction only)
    w_pheno: float = 0.5  # weight of the phenology loss (0: off)
    month_dropout: float = 0.15  # probability to hide a valid month from the encoder input
    test_fraction: float = 0.3  # share of locations held out for validation
    seed: int = 0  # seed of the split, initialisation and batches
    max_minutes: float = 14.0  # stop early when training takes longer than this
    max_steps: int = 0  # stop after this many steps (0: no limit; tests use a few)
    threads: int = 1  # CPU threads for torch (at most 2 on the dev machine)
    block: int = 8  # raster pixels are held out in blocks of block x block pixels
    sources: list[str] = field(default_factory=list)  # data the run used (filled in by the CLI)


def phenology_targets(values: np.ndarray, bands: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Index curves ``(N, 12, P)`` and seasonal statistics ``(N, 6 P)`` from monthly values.

    Indices: NDVI (red, nir), NDMI (nir, mir/swir1), or the input itself for a single index band.
    Statistics per index: min, max, mean, std, sin and cos of the month of the maximum.
    """
    b = {n: values[..., i] for i, n in enumerate(bands)}
    swir = b.get("mir", b.get("swir1"))
    curves, names = [], []
    eps = 1e-6
    if "red" in b and "nir" in b:
        curves.append((b["nir"] - b["red"]) / np.maximum(b["nir"] + b["red"], eps))
        names.append("ndvi")
    if "nir" in b and swir is not None:
        curves.append((b["nir"] - swir) / np.maximum(b["nir"] + swir, eps))
        names.append("ndmi")
    if not curves:
        curves = [values[..., i] for i in range(len(bands))]
        names = list(bands)
    c = np.clip(np.stack(curves, axis=-1), -1.0, 1.0).astype(np.float32)  # (N, 12, P)
    peak = c.argmax(axis=1) * (2 * math.pi / STEPS)
    stats = np.concatenate(
        [c.min(axis=1), c.max(axis=1), c.mean(axis=1), c.std(axis=1), np.sin(peak), np.cos(peak)], axis=1
    ).astype(np.float32)
    return c, stats, names


def _standardize(a: np.ndarray, train: np.ndarray) -> np.ndarray:
    flat = a[train].reshape(-1, a.shape[-1])  # statistics per last-axis channel, training rows only
    return ((a - flat.mean(axis=0)) / (flat.std(axis=0) + 1e-6)).astype(np.float32)


def train_model(
    data: TrainingSet, cfg: TrainConfig, device: str | None = None
) -> tuple[ESDNet, dict[str, Any]]:
    """Train ESDNet on ``data``'s training rows; returns the model (CPU, eval) and its metrics.

    Metrics: ``val`` reconstruction (:func:`reconstruction_metrics` on held-out rows, physical
    units), ``loss_first``/``loss_last`` (mean training loss of the first/last 10% of steps), steps,
    epochs done and seconds.
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    torch.set_num_threads(cfg.threads)  # 1 is fastest for these tiny convolutions on shared cores
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    train = ~data.is_test
    if train.sum() == 0:
        raise ModelError("no training rows after the location split")
    is_index = all(b in INDEX_BANDS for b in cfg.bands)
    clip = (-1.0, 1.0) if is_index else (0.0, 1.0)
    x = np.clip(data.values, *clip).astype(np.float32)
    mu = x[train].reshape(-1, x.shape[2]).mean(axis=0)
    sd = x[train].reshape(-1, x.shape[2]).std(axis=0) + 1e-6
    labelled = data.label[train]
    classes = tuple(sorted({str(c) for c in labelled if c})) if cfg.w_class > 0 else ()
    y = np.array([classes.index(c) if c in classes else -1 for c in data.label], dtype=np.int64)
    curves, stats, pheno_names = phenology_targets(x, cfg.bands)
    curves, stats = _standardize(curves, train), _standardize(stats, train)
    use_pheno = cfg.w_pheno > 0
    model_cfg = ESDNetConfig(
        bands=tuple(cfg.bands),
        offset=tuple(mu.tolist()),
        scale=tuple(sd.tolist()),
        clip=clip,
        hidden=cfg.hidden,
        blocks=cfg.blocks,
        classes=classes,
        pheno_dim=curves.shape[2] if use_pheno else 0,
        pheno_stats=stats.shape[1] if use_pheno else 0,
        extra={"pheno_indices": pheno_names, "train": asdict(cfg)},
    )
    model = ESDNet(model_cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    tr_idx = np.nonzero(train)[0]
    steps_per_epoch = max(1, math.ceil(len(tr_idx) / cfg.batch_size))
    total = (
        cfg.epochs * steps_per_epoch
        if not cfg.max_steps
        else min(cfg.max_steps, cfg.epochs * steps_per_epoch)
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    )

    def to(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(dev)

    losses: list[float] = []
    t0, step, epoch = time.time(), 0, 0
    model.train()
    while step < total and (time.time() - t0) < cfg.max_minutes * 60:
        # month dropout: hide random valid months (keep >= 1) and gap-fill them like a cloudy year
        drop = (rng.random(data.valid.shape) < cfg.month_dropout) & data.valid
        drop[drop.all(axis=1) | ~(data.valid & ~drop).any(axis=1)] = False
        seen_valid = data.valid & ~drop
        x_in = np.where(drop.any(axis=1)[:, None, None], fill_gaps(x, seen_valid), x)
        for batch in np.array_split(rng.permutation(tr_idx), steps_per_epoch):
            out = model(to(x_in[batch]), to(seen_valid[batch]))
            target = model.scale_in(to(x[batch]))
            weight = to(np.where(data.valid[batch], 1.0, 0.1).astype(np.float32))[..., None]
            loss = (F.smooth_l1_loss(out.recon, target, reduction="none", beta=0.1) * weight).mean()
            if out.logits is not None and (yb := to(y[batch])).ge(0).any():
                loss = loss + cfg.w_class * F.cross_entropy(out.logits, yb, ignore_index=-1)
            if out.pheno is not None and out.pheno_stats is not None:
                loss = loss + cfg.w_pheno * (
                    F.mse_loss(out.pheno, to(curves[batch])) + F.mse_loss(out.pheno_stats, to(stats[batch]))
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            if step >= total:
                break
        epoch += 1
    model = model.cpu().eval()
    from ml.esd.model import reconstruct

    k = max(1, len(losses) // 10)
    metrics: dict[str, Any] = {
        "steps": step,
        "epochs": epoch,
        "seconds": round(time.time() - t0, 1),
        "loss_first": float(np.mean(losses[:k])),
        "loss_last": float(np.mean(losses[-k:])),
        "train_rows": int(train.sum()),
        "val_rows": int(data.is_test.sum()),
        "parameters": int(
            sum(p.numel() for n, p in model.named_parameters() if n.startswith(("encoder", "decoder")))
        ),
    }
    if data.is_test.any():
        te = data.is_test
        recon = reconstruct(model, x[te], data.valid[te])
        metrics["val"] = reconstruction_metrics(x[te], recon, data.valid[te], cfg.bands)
    return model, metrics


def main(argv: list[str] | None = None) -> None:
    """CLI: train on sample files and/or demo rasters, save a checkpoint, print metrics as JSON."""
    p = argparse.ArgumentParser(prog="python -m ml.esd.train", description=__doc__)
    p.add_argument("--samples", nargs="*", default=[], help="sample .npz files (../shared/data/samples)")
    p.add_argument(
        "--rasters", nargs="*", default=[], choices=sorted(DEMO_SOURCES), help="demo raster stacks"
    )
    p.add_argument("--bands", default="blue,red,nir,mir", help="comma-separated model bands")
    p.add_argument("--out", required=True, help="checkpoint path (.pt)")
    d = TrainConfig()
    for name in ("epochs", "batch_size", "hidden", "blocks", "seed", "max_steps", "block", "threads"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("lr", "weight_decay", "w_class", "w_pheno", "month_dropout", "test_fraction", "max_minutes"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    a = p.parse_args(argv)
    if not a.samples and not a.rasters:
        p.error("give --samples and/or --rasters")
    bands = tuple(b.strip().lower() for b in a.bands.split(",") if b.strip())
    cfg = TrainConfig(
        bands=bands,
        **{k: getattr(a, k) for k in TrainConfig.__dataclass_fields__ if k not in ("bands", "sources")},
        sources=[Path(s).name for s in a.samples] + list(a.rasters),
    )
    sets = [samples_training_set(s, bands, cfg.test_fraction, cfg.seed) for s in a.samples]
    sets += [raster_training_set(r, bands, cfg.test_fraction, cfg.seed, cfg.block) for r in a.rasters]
    model, metrics = train_model(concat(sets), cfg, a.device)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model_checkpoint(model, metrics["steps"], metrics), out)
    print(json.dumps({"out": str(out), "bytes": out.stat().st_size, **metrics}, indent=2))


if __name__ == "__main__":
    main()
