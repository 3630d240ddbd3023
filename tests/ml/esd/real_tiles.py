"""Tiny ESD tiles made from real Landsat data (Colorado, WRS-2 035/032, 61 x 61 px, 30 m, EPSG:32613).

Each year's scenes are composited to 12 monthly steps (median of clear observations, empty months filled
from the nearest month), turned into 6 features per step (red, NIR, SWIR1, NDVI, NDMI, SWIR/red
contrast), standardized and quantized with the FSQ codec. QA is the number of clear observations of
the year; pixels without any are nodata. No trained encoder is needed: these are real, spatially
structured indices, which is what the store has to look up exactly.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from ml.esd.codec import quantize

SHARED_DATA = Path(
    os.environ.get("ESD_SHARED_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data")
)
COLORADO = SHARED_DATA / "rasters" / "landsat_colorado_p035r032" / "lsts_61x61_2008_2013"
UTM13 = CRS.from_epsg(32613)


@dataclass(frozen=True)
class RealYear:
    """One year of the Colorado site, already quantized."""

    indices: np.ndarray  # (12, 61, 61) uint16 FSQ indices (0 where not valid)
    qa: np.ndarray  # (61, 61) uint16 clear observations in the year
    valid: np.ndarray  # (61, 61) bool: at least one clear observation
    features: np.ndarray  # (12, 6, 61, 61) float32 monthly features before quantization
    transform: Affine  # EPSG:32613, 30 m


@lru_cache(maxsize=8)
def colorado_year(year: int) -> RealYear:
    """Composite and quantize one year (2008-2012) of the real Colorado stack."""
    scenes = sorted(p for p in COLORADO.iterdir() if p.is_dir() and p.name[9:13] == str(year))
    if not scenes:
        raise FileNotFoundError(f"no Colorado scenes for {year} under {COLORADO}")
    months: list[list[np.ndarray]] = [[] for _ in range(12)]
    transform = None
    qa = np.zeros((61, 61), dtype=np.uint16)
    for scene in scenes:
        doy = int(scene.name[13:16])
        month = int((np.datetime64(f"{year}-01-01") + np.timedelta64(doy - 1, "D")).astype(object).month) - 1
        bands = []
        for suffix in ("b3", "b4", "b5"):
            with rasterio.open(scene / f"{scene.name}_{suffix}.tif") as src:
                bands.append(src.read(1).astype(np.float32))
                transform = src.transform
        with rasterio.open(scene / f"{scene.name}_fmask.tif") as src:
            fmask = src.read(1)
        refl = np.stack(bands)  # (3, H, W) x10000
        clear = np.isin(fmask, (0, 1)) & (refl > -9999).all(axis=0)
        refl = np.where(clear, refl / 10000.0, np.nan)
        months[month].append(refl)
        qa += clear.astype(np.uint16)
    monthly = np.full((12, 3, 61, 61), np.nan, dtype=np.float32)
    for m, obs in enumerate(months):
        if obs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
                monthly[m] = np.nanmedian(np.stack(obs), axis=0)
    # fill empty months from the nearest month that has a value (per pixel)
    have = ~np.isnan(monthly[:, 0])  # (12, H, W)
    order = np.argsort(np.abs(np.arange(12)[:, None] - np.arange(12)[None, :]), axis=1, kind="stable")
    filled = monthly.copy()
    for m in range(12):
        for cand in order[m][1:]:
            gap = np.isnan(filled[m, 0]) & have[cand]
            filled[m][:, gap] = monthly[cand][:, gap]
    valid = np.asarray(have.any(axis=0))
    red, nir, swir = np.nan_to_num(filled[:, 0]), np.nan_to_num(filled[:, 1]), np.nan_to_num(filled[:, 2])
    eps = 1e-6
    feats = np.stack(
        [
            red,
            nir,
            swir,
            (nir - red) / (nir + red + eps),
            (nir - swir) / (nir + swir + eps),
            (swir - red) / (swir + red + eps),
        ],
        axis=1,
    ).astype(np.float32)  # (12, 6, H, W)
    mean = feats[:, :, valid].mean(axis=(0, 2))[None, :, None, None]
    std = feats[:, :, valid].std(axis=(0, 2))[None, :, None, None] + eps
    z = np.moveaxis((feats - mean) / std, 1, -1)  # (12, H, W, 6)
    indices = np.where(valid[None], quantize(z), 0).astype(np.uint16)
    if transform is None:
        raise FileNotFoundError(f"no readable scene for {year}")
    return RealYear(
        indices=indices,
        qa=np.where(valid, qa, 0).astype(np.uint16),
        valid=valid,
        features=feats,
        transform=transform,
    )
