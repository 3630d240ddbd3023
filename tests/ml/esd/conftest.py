"""Tiny real ESD tiles (see real_tiles.py) written once per session in UTM and geographic CRSs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import rasterio
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS

from ml.esd.tiles import write_tile
from tests.ml.esd.real_tiles import UTM13, RealYear, colorado_year

SPLIT = 31  # CO-A holds columns 0..30 of the 61 x 61 site, CO-B columns 31..60
NODATA_PATCH = (slice(0, 5), slice(0, 5))  # synthetic nodata corner in CO-A 2010 (edge case)
GEO_RES = 0.0003  # degrees, about 26 x 33 m at 40 N


@dataclass(frozen=True)
class Site:
    """The folder of a written store and the real arrays it holds."""

    root: Path
    years: dict[int, RealYear]  # full 61 x 61 site per year (valid includes the nodata patch)


def _write_split(root: Path, year: int, with_b: bool, patch: bool) -> RealYear:
    real = colorado_year(year)
    valid = real.valid.copy()
    if patch:
        valid[NODATA_PATCH] = False
    t = real.transform
    write_tile(
        root,
        "CO-A",
        year,
        real.indices[:, :, :SPLIT],
        real.qa[:, :SPLIT],
        valid[:, :SPLIT],
        UTM13,
        t,
        blocksize=16,
        overview_min_size=16,
    )
    if with_b:
        write_tile(
            root,
            "CO-B",
            year,
            real.indices[:, :, SPLIT:],
            real.qa[:, SPLIT:],
            valid[:, SPLIT:],
            UTM13,
            t @ Affine.translation(SPLIT, 0),
            blocksize=16,
            overview_min_size=16,
        )
    else:
        valid[:, SPLIT:] = False
    indices = np.where(valid[None], real.indices, 0).astype(np.uint16)
    return RealYear(
        indices=indices,
        qa=np.where(valid, real.qa, 0).astype(np.uint16),
        valid=valid,
        features=real.features,
        transform=t,
    )


@pytest.fixture(scope="session")
def utm_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Store of two UTM tiles side by side: 2009 and 2010 both tiles, 2011 only CO-A."""
    root = tmp_path_factory.mktemp("utm_store")
    years = {
        2009: _write_split(root, 2009, with_b=True, patch=False),
        2010: _write_split(root, 2010, with_b=True, patch=True),
        2011: _write_split(root, 2011, with_b=False, patch=False),
    }
    return Site(root=root, years=years)


def geographic_grid(real: RealYear, cols: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray, Affine]:
    """Resample the site's columns ``cols`` onto an EPSG:4326 grid (nearest: each geographic pixel takes the
    UTM pixel containing its centre). Returns ``(indices, qa, valid, transform)``."""
    t = real.transform
    left, top = t @ (cols.start, 0)
    right, bottom = t @ (cols.stop, 61)
    lon, lat = rasterio.warp.transform(
        UTM13, "EPSG:4326", [left, right, left, right], [top, top, bottom, bottom]
    )
    west, east, south, north = min(lon), max(lon), min(lat), max(lat)
    gt = Affine(GEO_RES, 0, west, 0, -GEO_RES, north)
    width = int(np.ceil((east - west) / GEO_RES))
    height = int(np.ceil((north - south) / GEO_RES))
    cc, rr = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    glon, glat = cast(Any, gt) @ (cc, rr)  # affine's stub: floats only
    x, y = rasterio.warp.transform("EPSG:4326", UTM13, glon.ravel().tolist(), glat.ravel().tolist())
    col, row = ~t @ (np.asarray(x), np.asarray(y))
    col, row = np.floor(col).astype(int), np.floor(row).astype(int)
    inside = (col >= cols.start) & (col < cols.stop) & (row >= 0) & (row < 61)
    col, row = np.clip(col, 0, 60), np.clip(row, 0, 60)
    valid = (inside & real.valid[row, col]).reshape(height, width)
    indices = real.indices[:, row, col].reshape(12, height, width)
    qa = real.qa[row, col].reshape(height, width)
    return indices, qa, valid, gt


@pytest.fixture(scope="session")
def mixed_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Store in two CRSs for 2009: CO-A in UTM 13N (columns 0..30) and CO-G in EPSG:4326 (columns 31..60)."""
    root = tmp_path_factory.mktemp("mixed_store")
    real = colorado_year(2009)
    write_tile(
        root,
        "CO-A",
        2009,
        real.indices[:, :, :SPLIT],
        real.qa[:, :SPLIT],
        real.valid[:, :SPLIT],
        UTM13,
        real.transform,
        blocksize=16,
        overview_min_size=16,
    )
    idx, qa, valid, gt = geographic_grid(real, slice(SPLIT, 61))
    write_tile(
        root, "CO-G", 2009, idx, qa, valid, CRS.from_epsg(4326), gt, blocksize=16, overview_min_size=16
    )
    return Site(root=root, years={2009: real})
