"""ESD tiles: names, COG layout, round trip of real indices, validation of bad files, the info CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rio_cogeo.cogeo import cog_validate

from ml.errors import TileError
from ml.esd.tiles import (
    SOURCE_ENCODED,
    SOURCE_OFFICIAL,
    main,
    parse_tile_name,
    prepare_indices,
    read_tile,
    read_tile_info,
    tile_filename,
    write_tile,
)
from tests.ml.esd.conftest import SPLIT, Site
from tests.ml.esd.real_tiles import UTM13, colorado_year


def test_names_round_trip() -> None:
    assert tile_filename("50TMK", 2021) == "SDC30_EBD_V001_50TMK_2021.tif"
    assert parse_tile_name("/x/y/SDC30_EBD_V001_50TMK_2021.tif") == ("50TMK", 2021)
    assert parse_tile_name("https://h/p/SDC30_EBD_V001_co-a-1_2009.tif") == ("co-a-1", 2009)
    for bad in (
        "SDC30_EBD_V001_50TMK_21.tif",
        "SDC30_EBD_V002_50TMK_2021.tif",
        "SDC30_EBD_V001_a_b_2021.tif",
        "SDC30_EBD_V001_50TMK_2021.tiff",
        "landsat.tif",
    ):
        with pytest.raises(TileError, match="name does not match"):
            parse_tile_name(bad)
    with pytest.raises(TileError):
        tile_filename("a_b", 2020)


def test_nodata_rule() -> None:
    idx = np.zeros((12, 2, 2), dtype=np.uint16)
    idx[3, 0, 1] = 77
    valid = np.array([[True, True], [False, True]])
    out = prepare_indices(idx, valid)
    assert out[0, 0, 0] == 1 and out[1:, 0, 0].sum() == 0  # valid all-zero pixel: step 1 -> index 1
    assert out[3, 0, 1] == 77 and out[0, 0, 1] == 0  # untouched
    assert not out[:, 1, 0].any()  # nodata
    assert (out.any(axis=0) == valid).all()


def test_real_tile_round_trip_is_a_valid_cog(utm_site: Site) -> None:
    real = utm_site.years[2010]
    path = utm_site.root / tile_filename("CO-A", 2010)
    ok, errors, _ = cog_validate(str(path), quiet=True)
    assert ok, errors
    with rasterio.open(path) as src:
        assert src.count == 13 and set(src.dtypes) == {"uint16"}
        assert src.block_shapes[0] == (16, 16)
        assert src.compression is not None and src.compression.value == "ZSTD"
        assert src.overviews(1) == [2, 4]
        assert src.crs.to_epsg() == 32613 and src.transform == real.transform
    data = read_tile(path)
    np.testing.assert_array_equal(data.indices, real.indices[:, :, :SPLIT])
    np.testing.assert_array_equal(data.qa, real.qa[:, :SPLIT])
    np.testing.assert_array_equal(data.valid, real.valid[:, :SPLIT])
    assert not data.valid[:5, :5].any() and data.valid[5:, 5:].all()


def test_tile_info(utm_site: Site) -> None:
    info = read_tile_info(utm_site.root / tile_filename("CO-B", 2009))
    assert (info.tile_id, info.year, info.width, info.height, info.epsg) == ("CO-B", 2009, 30, 61, 32613)
    assert info.source == SOURCE_ENCODED and info.valid_fraction == 1.0
    assert info.resolution == 30.0 and info.bounds == (337305.0, 4460595.0, 338205.0, 4462425.0)
    w, s, e, n = info.lonlat_bounds
    assert -107.0 < w < e < -106.8 and 40.2 < s < n < 40.35  # Colorado
    assert info.fingerprint.startswith("file:") and info.size_bytes > 0
    again = type(info).from_record(json.loads(json.dumps(info.to_record())))
    assert again == info


def test_geographic_tile(mixed_site: Site) -> None:
    path = mixed_site.root / tile_filename("CO-G", 2009)
    ok, errors, _ = cog_validate(str(path), quiet=True)
    assert ok, errors
    info = read_tile_info(path)
    assert info.epsg == 4326 and info.resolution == pytest.approx(0.0003)
    assert (
        info.valid_fraction is not None and 0.5 < info.valid_fraction < 1.0
    )  # the rotated UTM half-site inside its lon/lat box


def test_official_tile_without_producer_tag(tmp_path: Path) -> None:
    real = colorado_year(2009)
    profile = {
        "driver": "GTiff",
        "width": 61,
        "height": 61,
        "count": 13,
        "dtype": "uint16",
        "crs": UTM13,
        "transform": real.transform,
        "tiled": True,
        "blockxsize": 16,
        "blockysize": 16,
        "compress": "lzw",
    }
    path = tmp_path / "SDC30_EBD_V001_13TDE_2009.tif"  # an MGRS id, as in the official release
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.concatenate([real.indices, real.qa[None]]))
    info = read_tile_info(path)
    assert info.source == SOURCE_OFFICIAL and info.tile_id == "13TDE"
    np.testing.assert_array_equal(read_tile(path).indices, real.indices)


def _bad_files(root: Path) -> dict[str, str]:
    """Write bad files into ``root``; returns file name -> expected message fragment."""
    real = colorado_year(2009)
    base = {"driver": "GTiff", "width": 61, "height": 61, "crs": UTM13, "transform": real.transform}
    (root / "SDC30_EBD_V001_TXT_2009.tif").write_text("not a tiff at all\n")
    with rasterio.open(root / "SDC30_EBD_V001_BANDS_2009.tif", "w", count=12, dtype="uint16", **base) as d:
        d.write(real.indices)
    with rasterio.open(root / "SDC30_EBD_V001_FLOAT_2009.tif", "w", count=13, dtype="float32", **base) as d:
        d.write(np.zeros((13, 61, 61), np.float32))
    good = write_tile(
        root, "GOOD", 2009, real.indices, real.qa, real.valid, UTM13, real.transform, blocksize=16
    )
    shutil.copy(good, root / "badname_2009.tif")
    blob = good.read_bytes()
    (root / "SDC30_EBD_V001_TRUNC_2009.tif").write_bytes(blob[: len(blob) * 2 // 3])
    return {
        "SDC30_EBD_V001_TXT_2009.tif": "not a readable GeoTIFF",
        "SDC30_EBD_V001_BANDS_2009.tif": "has 12 bands",
        "SDC30_EBD_V001_FLOAT_2009.tif": "dtype float32",
        "badname_2009.tif": "name does not match",
        "SDC30_EBD_V001_TRUNC_2009.tif": "corrupt|not a readable",
    }


def test_bad_files_rejected_with_file_and_reason(tmp_path: Path) -> None:
    for name, fragment in _bad_files(tmp_path).items():
        with pytest.raises(TileError, match=fragment) as err:
            read_tile_info(tmp_path / name)
        assert name in str(err.value)
    assert read_tile_info(tmp_path / "SDC30_EBD_V001_GOOD_2009.tif").valid_fraction == 1.0


def test_write_rejects_bad_input(tmp_path: Path) -> None:
    t = Affine(30, 0, 0, 0, -30, 0)
    ok = np.ones((12, 4, 4), np.uint16), np.ones((4, 4), np.uint16), np.ones((4, 4), bool)
    with pytest.raises(TileError, match=r"shape \(12, H, W\)"):
        write_tile(tmp_path, "X", 2020, np.ones((11, 4, 4), np.uint16), ok[1], ok[2], UTM13, t)
    with pytest.raises(TileError, match="64000"):
        write_tile(tmp_path, "X", 2020, np.full((12, 4, 4), 64000, np.int64), ok[1], ok[2], UTM13, t)
    with pytest.raises(TileError, match="qa"):
        write_tile(tmp_path, "X", 2020, ok[0], np.ones((3, 4), np.uint16), ok[2], UTM13, t)
    assert not list(tmp_path.iterdir())


def test_info_cli(utm_site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    path = utm_site.root / tile_filename("CO-A", 2010)
    assert main(["info", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    real = utm_site.years[2010]
    assert out["tile_id"] == "CO-A" and out["year"] == 2010 and out["epsg"] == 32613
    assert out["width"] == SPLIT and out["height"] == 61 and out["overviews"] == [2, 4]
    assert out["valid_fraction"] == pytest.approx(real.valid[:, :SPLIT].mean())
    assert out["qa"]["max"] == int(real.qa[:, :SPLIT].max())
    assert main(["info", str(utm_site.root / "missing.tif")]) == 1
