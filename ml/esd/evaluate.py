"""Reconstruction quality and compression of ESDNet on a sample file: ``python -m ml.esd.evaluate``.

Prints JSON: MAE, RMSE and Pearson CC between the monthly composites and their reconstruction
(decode(encode(x))) over the model's reflectance bands, overall and per band, on valid months only,
and the bytes per pixel-year of the raw observations vs the encoded ESD pixel (12 uint16 + QA).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ml.esd.codec import STEPS
from ml.esd.datasets import raster_training_set
from ml.samples import load_samples, location_holdout

PAPER = {"mae": 0.0130, "rmse": 0.0179, "cc": 0.8543}  # ESDNet on Landsat (Chen et al., 2026)
ENCODED_BYTES = (STEPS + 1) * 2  # 12 uint16 FSQ indices + 1 uint16 QA band per pixel-year


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def reconstruction_metrics(
    truth: np.ndarray, recon: np.ndarray, valid: np.ndarray, bands: tuple[str, ...]
) -> dict[str, Any]:
    """Errors of ``recon`` vs ``truth`` (both ``(N, 12, B)`` physical units) on ``valid (N, 12)`` months.

    ``cc`` is the mean over bands of the Pearson CC pooled over pixels and months; ``cc_series`` the
    mean over pixel-bands of the CC along the valid months (temporal shape only; pixel-years with
    at least 6 valid months, flat series skipped; None when there are none).
    """
    m = np.asarray(valid, dtype=bool)
    t, r = truth[m], recon[m]  # (M, B)
    err = r - t
    per_band = {
        b: {
            "mae": float(np.abs(err[:, i]).mean()),
            "rmse": float(np.sqrt((err[:, i] ** 2).mean())),
            "cc": _pearson(t[:, i], r[:, i]),
        }
        for i, b in enumerate(bands)
    }
    w = m[..., None].astype(np.float64)  # (N, 12, 1) valid-month weights
    n = w.sum(axis=1)  # (N, 1)
    rows = n[:, 0] >= 6  # series CC only where at least 6 months are valid
    tc = (truth - (truth * w).sum(axis=1, keepdims=True) / np.maximum(n, 1)[:, None]) * w
    rc = (recon - (recon * w).sum(axis=1, keepdims=True) / np.maximum(n, 1)[:, None]) * w
    num = (tc * rc).sum(axis=1)[rows]  # (R, B)
    den = np.sqrt((tc**2).sum(axis=1) * (rc**2).sum(axis=1))[rows]
    ok = den > 1e-12
    cc_series = float(np.mean(num[ok] / den[ok])) if ok.any() else None
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "cc": float(np.mean([v["cc"] for v in per_band.values()])),
        "cc_series": cc_series,
        "n_pixel_years": int(m.shape[0]),
        "per_band": per_band,
    }


def monthly_at_dates(monthly: np.ndarray, year_start: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Monthly series ``(N, 12, B)`` linearly interpolated to observation ``dates (N, T)`` -> ``(N, T, B)``.

    Each month's value sits at the middle of its month; dates before the first / after the last
    middle take the first / last month's value.
    """
    start = np.asarray(year_start).astype("datetime64[D]")[:, None]
    days = (np.asarray(dates).astype("datetime64[D]") - start).astype(np.float64)  # (N, T)
    pos = np.clip(days / (365.25 / STEPS) - 0.5, 0.0, STEPS - 1.0)
    lo = np.minimum(np.floor(pos).astype(np.int64), STEPS - 2)
    w = (pos - lo)[..., None].astype(np.float32)
    a = np.take_along_axis(monthly, lo[..., None], axis=1)
    b = np.take_along_axis(monthly, lo[..., None] + 1, axis=1)
    return a * (1.0 - w) + b * w


def evaluate_file(
    samples_path: str | Path, weights: str | Path | None = None, test_fraction: float = 0.0, seed: int = 0
) -> dict[str, Any]:
    """Reconstruction metrics and bytes per pixel-year of a sample file (all rows, or its held-out part).

    With ``test_fraction > 0`` only the rows :func:`ml.samples.location_holdout` holds out are used
    (the locations the shipped models never trained on, with the same fraction and seed).
    """
    from ml.esd.model import load_model, reconstruct

    s = load_samples(samples_path)
    model, meta = load_model(weights if weights is not None else s.bands)
    bands = tuple(meta["bands"])
    if test_fraction > 0:
        s = s.subset(location_holdout(s.lon, s.lat, test_fraction, seed))
    from ml.esd.composite import composite_samples

    comp = composite_samples(s, bands)
    lo, hi = meta["clip"]
    truth = np.clip(comp.values, lo, hi)
    recon = reconstruct(model, comp.values, comp.valid)
    metrics = reconstruction_metrics(truth, recon, comp.valid, bands)
    # the whole chain against the original observations (23 x 16-day): composite+encode+decode, and
    # the monthly composite alone (the part of the error due to 12 monthly steps, not to the codes)
    obs = np.clip(s.select_bands(bands).X, lo, hi)
    ok = np.isfinite(obs).all(axis=2)
    at_obs = {
        name: reconstruction_metrics(obs, est, ok, bands)
        for name, est in (
            ("decoded", monthly_at_dates(recon, comp.year_start, s.dates)),
            ("monthly_composite", monthly_at_dates(truth, comp.year_start, s.dates)),
        )
    }
    t = s.X.shape[1]
    return {
        "file": str(samples_path),
        "weights": meta["path"],
        "bands": list(bands),
        "rows": len(s),
        "held_out_only": test_fraction > 0,
        **metrics,
        "vs_observations": {k: {m: v[m] for m in ("mae", "rmse", "cc")} for k, v in at_obs.items()},
        "paper": PAPER,
        "bytes_per_pixel_year": {
            "raw_float32": t * len(bands) * 4,
            "raw_int16": t * len(bands) * 2,
            "monthly_int16": STEPS * len(bands) * 2,
            "encoded": ENCODED_BYTES,
            "ratio_vs_raw_int16": round(t * len(bands) * 2 / ENCODED_BYTES, 2),
        },
    }


def evaluate_raster(
    name: str, weights: str | Path | None = None, test_fraction: float = 0.0, seed: int = 0, block: int = 8
) -> dict[str, Any]:
    """Reconstruction metrics on the valid months of a demo raster's pixel-years (all, or held-out blocks).

    With ``test_fraction > 0`` only the ``block x block`` pixel blocks the training split held out are
    used (:func:`ml.esd.datasets.raster_training_set`, same fraction, seed and block).
    """
    from ml.esd.model import load_model, reconstruct
    from ml.esd.rasters import read_demo

    model, meta = load_model(weights if weights is not None else read_demo(name).bands)
    bands = tuple(meta["bands"])
    data = raster_training_set(name, bands, test_fraction if test_fraction > 0 else 0.5, seed, block)
    rows = data.is_test if test_fraction > 0 else np.ones(len(data), dtype=bool)
    lo, hi = meta["clip"]
    truth = np.clip(data.values[rows], lo, hi)
    recon = reconstruct(model, data.values[rows], data.valid[rows])
    return {
        "raster": name,
        "weights": meta["path"],
        "bands": list(bands),
        "held_out_only": test_fraction > 0,
        **reconstruction_metrics(truth, recon, data.valid[rows], bands),
        "valid_month_share": float(data.valid[rows].mean()),
        "paper": PAPER,
    }


def evaluate_pixels(paths: list[str | Path], weights: str | Path | None = None) -> dict[str, Any]:
    """Reconstruction metrics on the valid months of every calendar year of LCMAP Landsat pixel series.

    These pixels (``../shared/data/pixels/lcmap_pyccd``) lie outside every training site, so all of
    them are held-out locations. Pixel-years without a clear month are skipped.
    """
    from ml.esd.composite import composite_years
    from ml.esd.model import load_model, reconstruct
    from ml.esd.rasters import LANDSAT6, read_pixel_series

    model, meta = load_model(weights if weights is not None else LANDSAT6)
    bands = tuple(meta["bands"])
    sel = [LANDSAT6.index(b) for b in bands]
    parts = []
    for path in paths:
        px = read_pixel_series(path)
        years = sorted({int(y) for y in px.dates.astype("datetime64[Y]").astype(int) + 1970})
        for comp in composite_years(px.values[None][:, :, sel], px.dates, years, px.clear[None]).values():
            if comp.has_data[0]:
                parts.append((comp.values, comp.valid))
    values = np.concatenate([v for v, _ in parts])
    valid = np.concatenate([m for _, m in parts])
    lo, hi = meta["clip"]
    recon = reconstruct(model, values, valid)
    return {
        "pixels": [Path(p).name for p in paths],
        "weights": meta["path"],
        "bands": list(bands),
        **reconstruction_metrics(np.clip(values, lo, hi), recon, valid, bands),
        "valid_month_share": float(valid.mean()),
        "paper": PAPER,
    }


def main(argv: list[str] | None = None) -> None:
    """CLI: print the JSON of :func:`evaluate_file`."""
    p = argparse.ArgumentParser(prog="python -m ml.esd.evaluate", description=__doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--samples", help="sample .npz (format of ../shared/data/samples)")
    src.add_argument("--raster", help="a demo raster name (mt-dtwsat, colorado, slovenia, sinop)")
    src.add_argument("--pixels", nargs="+", help="LCMAP Landsat pixel series (.npy / .csv)")
    p.add_argument(
        "--weights", default=None, help="checkpoint .pt (default: shipped model for the file's bands)"
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.0,
        help="evaluate only the held-out locations of this fraction (0.3 = the shipped models' split)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the location hold-out")
    a = p.parse_args(argv)
    if a.pixels:
        print(json.dumps(evaluate_pixels(a.pixels, a.weights), indent=2))
    elif a.raster:
        print(json.dumps(evaluate_raster(a.raster, a.weights, a.test_fraction, a.seed), indent=2))
    else:
        print(json.dumps(evaluate_file(a.samples, a.weights, a.test_fraction, a.seed), indent=2))


if __name__ == "__main__":
    main()
