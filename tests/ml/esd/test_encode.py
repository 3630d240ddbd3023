"""Encode the real MODIS Mato Grosso stack into ESD tiles, look them up in the store, decode back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from ml.esd.encode import encode_demo, encode_raster
from ml.esd.model import decode_indices, load_model
from ml.esd.rasters import DEMO_SOURCES, read_demo
from ml.esd.store import EsdStore
from ml.esd.tiles import read_tile_info


@pytest.fixture(scope="module")
def mt_store(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    report = encode_demo(out, ["mt-dtwsat"], shared_data)
    return out / "mt-dtwsat", report["mt-dtwsat"]


def test_demo_tiles_written(mt_store: tuple[Path, dict]) -> None:
    folder, report = mt_store
    names = sorted(p.name for p in folder.glob("*.tif"))
    assert names == [f"SDC30_EBD_V001_MT-DTWSAT_{y}.tif" for y in range(2007, 2014)]
    info = read_tile_info(str(folder / names[-1]))
    assert (info.height, info.width) == (27, 37)
    with rasterio.open(folder / names[-1]) as src:
        assert src.count == 13 and src.dtypes[0] == "uint16"
        qa = src.read(13)
    assert 20 <= qa.max() <= 23  # 16-day MODIS: about 23 observations in a crop year
    bpy = report["bytes_per_pixel_year"]
    assert bpy["encoded"] == 26 and bpy["raw_int16"] > 4 * bpy["encoded"]
    assert report["reconstruction_valid_months"]["mae"] < 0.02


def test_store_lookup_decodes_close_to_reflectance(mt_store: tuple[Path, dict], shared_data: Path) -> None:
    folder, _ = mt_store
    series = read_demo("mt-dtwsat", shared_data)
    model, _ = load_model(series.bands)
    src = DEMO_SOURCES["mt-dtwsat"]
    encoded = {e.year: e for e in encode_raster(series, model, [2010, 2012], src.start_month)}
    # pixel centres of a few grid cells, as lon/lat
    rows, cols = np.array([3, 10, 20, 26]), np.array([2, 15, 30, 36])
    xs, ys = rasterio.transform.xy(series.transform, rows, cols)
    lon, lat = rasterio.warp.transform(series.crs, "EPSG:4326", xs, ys)
    store = EsdStore.open(folder)
    res = store.read_points(lon, lat, [2010, 2012])
    assert res.valid.all()
    for yi, year in enumerate((2010, 2012)):
        e = encoded[year]
        np.testing.assert_array_equal(res.indices[:, yi], e.indices[:, rows, cols].T)
        recon = decode_indices(model, res.indices[:, yi])  # (P, 12, 4)
        truth = e.monthly[:, rows, cols].transpose(1, 0, 2)
        assert np.abs(recon - truth).mean() < 0.02
