"""Official-layout tiles (DEFLATE, 256 px blocks, no overviews): decimated window reads and coarse copies.

The tile is real: the quantized Colorado Landsat site (61 x 61 px, UTM 13N) mirror-repeated to 512 x 512
px, written the way official ESD tiles are (plain GeoTIFF, no producer tag, no overviews).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
from rasterio.crs import CRS

from ml.esd.preview import COPY_FACTOR, coarse_copy, preview_store
from ml.esd.store import EsdStore
from ml.esd.tiles import SOURCE_OFFICIAL, read_tile, read_tile_info, tile_filename
from tests.ml.esd.real_tiles import UTM13, colorado_year

SIZE = 512


def _mirror(n: int, size: int) -> np.ndarray:
    i = np.arange(size) % (2 * n)
    return np.where(i < n, i, 2 * n - 1 - i)


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``SDC30_EBD_V001_CO-OFF_2009.tif`` in a folder of its own, official layout."""
    real = colorado_year(2009)
    rows, cols = _mirror(61, SIZE), _mirror(61, SIZE)
    indices = np.where(real.valid, real.indices, 0)[:, rows][:, :, cols]
    qa = np.where(real.valid, real.qa, 0)[rows][:, cols]
    path = tmp_path_factory.mktemp("official") / tile_filename("CO-OFF", 2009)
    profile = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "count": 13,
        "dtype": "uint16",
        "crs": UTM13,
        "transform": real.transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "DEFLATE",
        "interleave": "band",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.concatenate([indices, qa[None]]).astype(np.uint16))
    return path


def test_the_tile_has_the_official_layout(official: Path) -> None:
    info = read_tile_info(official)
    assert info.source == SOURCE_OFFICIAL and info.block_shape == (256, 256)
    with rasterio.open(official) as src:
        assert src.overviews(1) == [] and src.compression.value == "DEFLATE"


def test_a_coarser_window_takes_every_other_pixel(official: Path) -> None:
    full = read_tile(str(official)).indices
    store = EsdStore.open(official.parent)
    left, bottom, right, top = store.tiles[0].bounds
    res = store.read_window((left, bottom, right, top), 32613, resolution=60.0)
    assert res.shape == (SIZE // 2, SIZE // 2)
    # each 60 m pixel takes the 30 m pixel containing its centre, read decimated (not the whole tile)
    np.testing.assert_array_equal(res.indices[0], full[:, 1::2, 1::2])


def test_coarse_copy_is_built_once_and_holds_the_centre_pixels(official: Path, tmp_path: Path) -> None:
    tile = read_tile_info(official)
    copy = coarse_copy(tile, tmp_path)
    assert copy.uri != tile.uri and Path(copy.uri).is_relative_to(tmp_path)
    assert (copy.width, copy.height) == (SIZE // COPY_FACTOR, SIZE // COPY_FACTOR)
    assert copy.resolution == tile.resolution * COPY_FACTOR and copy.bounds == tile.bounds
    data = read_tile(copy.uri)
    full = read_tile(str(official))
    np.testing.assert_array_equal(data.indices, full.indices[:, 2::4, 2::4])
    np.testing.assert_array_equal(data.qa, full.qa[2::4, 2::4])
    mtime = Path(copy.uri).stat().st_mtime_ns
    assert coarse_copy(tile, tmp_path) == copy and Path(copy.uri).stat().st_mtime_ns == mtime


def test_previews_read_the_copy_only_when_coarse(official: Path, tmp_path: Path) -> None:
    store = EsdStore.open(official.parent)
    utm = CRS.from_epsg(32613)
    assert preview_store(store, utm, 30.0, tmp_path).tiles == store.tiles  # native: the tile itself
    coarse = preview_store(store, utm, 30.0 * COPY_FACTOR, tmp_path)
    assert coarse.tiles[0].uri != store.tiles[0].uri
    left, bottom, right, top = store.tiles[0].bounds
    res = coarse.read_window((left, bottom, right, top), utm, resolution=30.0 * COPY_FACTOR)
    full = read_tile(str(official)).indices
    np.testing.assert_array_equal(res.indices[0], full[:, 2::4, 2::4])
    # in Web Mercator, a preview tile's grid: every pixel with data comes from the tile
    merc = CRS.from_epsg(3857)
    web = preview_store(store, merc, 600.0, tmp_path)
    assert web.tiles[0].uri == coarse.tiles[0].uri
    box = rasterio.warp.transform_bounds(utm, merc, left, bottom, right, top)
    out = web.read_window(box, merc, resolution=600.0)
    assert out.valid[0].mean() > 0.5
    assert set(map(tuple, out.indices[0][:, out.valid[0]].T[:50])) <= set(map(tuple, full.reshape(12, -1).T))


def test_tiles_with_overviews_are_read_directly(utm_site, tmp_path: Path) -> None:
    tile = EsdStore.open(utm_site.root).tiles[0]  # ours: a COG with 2x and 4x overviews
    assert coarse_copy(tile, tmp_path) == tile and not any(tmp_path.iterdir())
