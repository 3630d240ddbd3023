"""XYZ tile reads and PNGs of ml.xyz against rio-tiler and Pillow, on real class maps in UTM."""

from __future__ import annotations

import io
from pathlib import Path

import morecantile
import numpy as np
import pytest
from PIL import Image
from rio_tiler.io import Reader

from ml.cog import write_class_cog
from ml.xyz import colour_values, encode_png, mercator_bounds, read_xyz, rescale
from tests.ml.esd.real_tiles import UTM13, colorado_year

TMS = morecantile.tms.get("WebMercatorQuad")
COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"]


@pytest.fixture(scope="module")
def class_cog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,024 x 1,024 px class map (30 m, UTM 13N, with overviews): quintiles of the real Colorado
    site's July NDVI, mirror-repeated; a nodata band across the top."""
    real = colorado_year(2009)
    i = np.arange(1024) % 122
    idx = np.where(i < 61, i, 121 - i)
    ndvi = real.features[6, 3]
    quintiles = np.digitize(ndvi, np.quantile(ndvi, [0.2, 0.4, 0.6, 0.8])).astype(np.uint8)
    classes = quintiles[idx][:, idx]
    classes[:40] = 255
    path = tmp_path_factory.mktemp("xyz") / "classes.tif"
    return write_class_cog(path, classes, UTM13, real.transform, COLORS)


def png_array(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG" and img.size == (256, 256)
    return np.asarray(img.convert("RGBA"))


@pytest.mark.parametrize("zoom", [10, 12, 14])
def test_tiles_match_rio_tiler(class_cog: Path, zoom: int) -> None:
    """The pixels of rio-tiler's warped read (nearest) but at a pixel's edge; at zooms where both read
    overviews they may pick different levels, so there only the footprint is compared."""
    with Reader(str(class_cog)) as cog:
        west, _, _, north = cog.get_geographic_bounds("EPSG:4326")
        t = TMS.tile(west + 0.05, north - 0.03, zoom)
        ref = cog.tile(t.x, t.y, t.z, tilesize=256)
    ours = read_xyz(class_cog, t.z, t.x, t.y)
    assert ours is not None
    ref_valid = ~np.ma.getmaskarray(ref.array[0])
    assert ours.valid.any()
    assert (ours.valid == ref_valid).mean() > 0.99
    if zoom >= 12:  # full resolution in both
        both = ours.valid & ref_valid
        assert (ours.data[0][both] == np.ma.getdata(ref.array[0])[both]).mean() > 0.98


def test_a_tile_off_the_raster_is_none(class_cog: Path) -> None:
    assert read_xyz(class_cog, 12, 0, 0) is None
    left, bottom, right, top = mercator_bounds(1, 1, 0)
    assert (left, top) == (0.0, 20037508.342789244) and right - left == top - bottom


def test_colour_values_palette_png() -> None:
    values = np.tile(np.arange(256, dtype=np.uint16) % 7, (256, 1))  # 0..6; 5 and 6 have no colour
    valid = np.ones(values.shape, bool)
    valid[:10] = False
    cmap = {k: (10 * k, 20, 30, 255) for k in range(5)} | {2018: (1, 2, 3, 255)}
    rgba = png_array(colour_values(values, valid, cmap))
    assert (rgba[:10, :, 3] == 0).all()
    for k in range(5):
        assert (rgba[10:][values[10:] == k] == (10 * k, 20, 30, 255)).all()
    assert (rgba[10:][values[10:] >= 5][:, 3] == 0).all()
    years = np.full((256, 256), 2018, dtype=np.uint16)  # values above 255 (change years)
    assert (png_array(colour_values(years, np.ones_like(valid), cmap)) == (1, 2, 3, 255)).all()


def test_many_colours_and_rgba_pngs() -> None:
    ramp = {k: (k, 255 - k, 7, 255) for k in range(256)}  # 256 colours + transparent: RGBA output
    values = rescale(np.linspace(0, 1, 256 * 256, dtype=np.float32).reshape(256, 256), (0.0, 1.0))
    assert values.max() == 255 and values.min() == 0
    rgba = png_array(colour_values(values, np.ones(values.shape, bool), ramp))
    assert (rgba[..., 0] == values).all() and (rgba[..., 1] == 255 - values).all()
    pixels = np.random.default_rng(0).integers(0, 256, (256, 256, 4), dtype=np.uint8)
    assert (png_array(encode_png(pixels)) == pixels).all()
