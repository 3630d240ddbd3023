"""Self-describing map packages: class names and colours that ``gdalinfo`` lists, QGIS styles, UTM zones.

Tiny class COGs in a real UTM CRS (EPSG:32721, Mato Grosso) written by the project's own writer; the
checks read them back with rasterio and the system's ``gdalinfo`` (GDAL's command-line tool).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from ml.cog import write_class_cog, write_value_cog
from ml.colormaps import from_to_colormap, years_colormap
from ml.errors import ProductError
from ml.map_package import codes_csv, export_cog, pam_xml, product_categories, qml_style, utm_crs

CLASSES = ["Forest", "Pasture", "Soy & maize"]
COLORS = ["#1b7837", "#f1a340", "#998ec3"]
TRANSFORM = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 8_600_000.0)
GDALINFO = shutil.which("gdalinfo")


@pytest.fixture
def landcover(tmp_path: Path) -> Path:
    classes = np.random.default_rng(0).integers(0, 3, (40, 50)).astype(np.uint8)
    classes[0, :5] = 255
    return write_class_cog(
        tmp_path / "landcover_2012.tif", classes, "EPSG:32721", TRANSFORM, COLORS, class_names=CLASSES
    )


def _gdalinfo(path: Path) -> str:
    if GDALINFO is None:
        pytest.skip("gdalinfo (gdal-bin) is not installed")
    return subprocess.run([GDALINFO, str(path)], check=True, capture_output=True, text=True).stdout


def test_landcover_package_lists_class_names_in_gdalinfo(landcover: Path, tmp_path: Path) -> None:
    with rasterio.open(landcover) as src:
        cats = product_categories("landcover", CLASSES, src.colormap(1))
    assert [(c.value, c.name, c.hex) for c in cats] == [
        (i, n, c) for i, (n, c) in enumerate(zip(CLASSES, COLORS, strict=True))
    ]
    out = export_cog(landcover, tmp_path / "out.tif")
    (tmp_path / "out.tif.aux.xml").write_text(pam_xml(cats))
    info = _gdalinfo(out)
    assert "Categories:" in info
    for i, name in enumerate(CLASSES):
        assert f"{i}: {name}" in info
    assert "Color Table" in info and "0: 27,120,55,255" in info  # Forest's colour stays in the TIFF
    assert "<GDALRasterAttributeTable" in info and "<F>Soy &amp; maize</F>" in info
    assert "LAYOUT=COG" in info


def test_reprojection_keeps_classes_colours_and_tags(landcover: Path, tmp_path: Path) -> None:
    for crs in (CRS.from_epsg(4326), utm_crs(-57.5, -12.6)):
        out = export_cog(landcover, tmp_path / f"out_{crs.to_epsg()}.tif", crs)
        with rasterio.open(out) as dst, rasterio.open(landcover) as src:
            assert dst.crs == crs and dst.nodata == 255
            assert dst.colormap(1)[2] == src.colormap(1)[2]
            assert dst.tags()["CLASS_NAMES"] == src.tags()["CLASS_NAMES"]
            values = set(np.unique(dst.read(1)).tolist())
            assert values <= {0, 1, 2, 255} and {0, 1, 2} <= values  # nearest: no blended values


def test_from_to_codes_name_both_classes(tmp_path: Path) -> None:
    n = len(CLASSES)
    codes = np.array([[1, 2, 6], [0, 9, 4]], dtype=np.uint8)  # i * n + j + 1
    path = write_value_cog(
        tmp_path / "change_2008_2012.tif",
        codes,
        "EPSG:32721",
        TRANSFORM,
        0,
        colormap=from_to_colormap(COLORS),
    )
    with rasterio.open(path) as src:
        cats = product_categories("change_from_to", CLASSES, src.colormap(1))
    assert len(cats) == n * n
    by_code = {c.value: c for c in cats}
    assert by_code[2].name == "Forest → Pasture" and (by_code[2].from_class, by_code[2].to_class) == (
        "Forest",
        "Pasture",
    )
    assert by_code[1].name == "Forest (unchanged)"
    rows = list(csv.DictReader(io.StringIO(codes_csv(cats, with_change_columns=True))))
    assert rows[1] == {
        "value": "2",
        "name": "Forest → Pasture",
        "color": by_code[2].hex,
        "from_class": "Forest",
        "to_class": "Pasture",
    }
    (tmp_path / "change_2008_2012.tif.aux.xml").write_text(pam_xml(cats, with_change_columns=True))
    info = _gdalinfo(path)
    assert "Categories:" in info and "2: Forest → Pasture" in info and "<Name>ToClass</Name>" in info


def test_qml_is_a_paletted_qgis_style(landcover: Path) -> None:
    with rasterio.open(landcover) as src:
        cats = product_categories("landcover", CLASSES, src.colormap(1))
    root = ET.fromstring(qml_style(cats).split("\n", 1)[1])  # after the DOCTYPE line
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None and renderer.get("type") == "paletted" and renderer.get("band") == "1"
    entries = [(e.get("value"), e.get("color"), e.get("label")) for e in renderer.iter("paletteEntry")]
    assert entries == [(str(i), c, n) for i, (n, c) in enumerate(zip(CLASSES, COLORS, strict=True))]


def test_year_and_count_categories_and_utm_zones() -> None:
    years = [2007, 2008, 2009]
    assert [c.name for c in product_categories("change_last_year", CLASSES, {}, years)] == [
        "last change in 2007",
        "last change in 2008",
        "last change in 2009",
    ]
    assert [c.value for c in product_categories("change_count", CLASSES, {}, years)] == [0, 1, 2]
    assert product_categories("similarity", CLASSES, {}, years) == []
    assert "<CategoryNames>" not in pam_xml(product_categories("change_last_year", CLASSES, {}, years))
    assert utm_crs(-55.95, -12.0).to_epsg() == 32721  # the Mato Grosso demo
    assert utm_crs(14.5, 46.0).to_epsg() == 32633  # Slovenia
    assert utm_crs(180.0, 10.0).to_epsg() == 32660
    with pytest.raises(ProductError):
        utm_crs(200.0, 0.0)


def test_a_colour_map_can_be_given_to_products_written_without_one(tmp_path: Path) -> None:
    years = np.array([[0, 2008, 2009], [2012, 0, 2008]], dtype=np.uint16)
    path = write_value_cog(tmp_path / "change_last_year.tif", years, "EPSG:32721", TRANSFORM, 0)
    cmap = years_colormap([2008, 2009, 2010, 2011, 2012])
    out = export_cog(path, tmp_path / "out.tif", colormap=cmap)
    with rasterio.open(out) as dst:
        assert dst.dtypes[0] == "uint16" and dst.colormap(1)[2009] == cmap[2009]
        assert (dst.read(1) == years).all()
    cats = product_categories("change_last_year", CLASSES, cmap, [2008, 2009, 2010, 2011, 2012])
    (tmp_path / "out.tif.aux.xml").write_text(pam_xml(cats))
    info = _gdalinfo(out)
    assert "Color Table" in info and "<F>last change in 2009</F>" in info
