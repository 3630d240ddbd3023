"""ESD store lookups on real tiles: windows over tile edges, two CRSs, points, coverage errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import rasterio.warp
from affine import Affine

from ml.errors import NoCoverageError, StoreError
from ml.esd.codec import indices_to_codes
from ml.esd.store import EsdStore, PointStrategy, main, write_catalog
from ml.esd.tiles import read_tile, tile_filename
from tests.ml.esd.conftest import SPLIT, Site
from tests.ml.esd.real_tiles import UTM13, colorado_year
from tests.ml.esd.test_tiles import _bad_files

SITE_BOUNDS = (336375.0, 4460595.0, 338205.0, 4462425.0)  # the 61 x 61 px Colorado site, EPSG:32613


def site_lonlat(
    rng: np.random.Generator, n: int, inset: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random points inside the site: (lon, lat, row, col) with the UTM pixel each falls in."""
    x = rng.uniform(SITE_BOUNDS[0] + inset, SITE_BOUNDS[2] - inset, n)
    y = rng.uniform(SITE_BOUNDS[1] + inset, SITE_BOUNDS[3] - inset, n)
    lon, lat = rasterio.warp.transform(UTM13, "EPSG:4326", x.tolist(), y.tolist())
    col = np.floor((x - SITE_BOUNDS[0]) / 30).astype(int)
    row = np.floor((SITE_BOUNDS[3] - y) / 30).astype(int)
    return np.asarray(lon), np.asarray(lat), row, col


def test_open_scans_folder(utm_site: Site) -> None:
    store = EsdStore.open(utm_site.root)
    assert store.years == (2009, 2010, 2011)
    assert sorted((t.tile_id, t.year) for t in store.tiles) == [
        ("CO-A", 2009),
        ("CO-A", 2010),
        ("CO-A", 2011),
        ("CO-B", 2009),
        ("CO-B", 2010),
    ]
    assert store.rejected == ()
    assert EsdStore.open(f"file://{utm_site.root}").tiles == store.tiles


def test_window_over_tile_edge_is_exact(utm_site: Site) -> None:
    store = EsdStore.open(utm_site.root)
    res = store.read_window(SITE_BOUNDS, "EPSG:32613", years=[2009, 2010, 2011, 2015])
    assert res.years == (2009, 2010, 2011, 2015) and res.shape == (61, 61)
    assert res.transform == colorado_year(2009).transform and res.crs.to_epsg() == 32613
    assert res.embeddings.shape == (4, 12, 6, 61, 61) and res.embeddings.dtype == np.float32
    for i, year in enumerate((2009, 2010, 2011)):
        real = utm_site.years[year]
        np.testing.assert_array_equal(res.valid[i], real.valid)
        np.testing.assert_array_equal(res.indices[i], real.indices)
        np.testing.assert_array_equal(res.qa[i], real.qa)
        expected = np.moveaxis(indices_to_codes(real.indices), -1, 1) * real.valid  # (12, 6, H, W)
        np.testing.assert_array_equal(res.embeddings[i], expected)
    assert not res.valid[1][:5, :5].any()  # the nodata corner of CO-A 2010
    assert res.valid[2][:, :SPLIT].all() and not res.valid[2][:, SPLIT:].any()  # 2011: no CO-B tile
    assert not res.valid[3].any() and not res.embeddings[3].any()  # 2015: no tile at all


def test_unaligned_window_snaps_to_pixel_grid(utm_site: Site) -> None:
    store = EsdStore.open(utm_site.root)
    bbox = (336375.0 + 25 * 30 + 7, 4460595.0 + 10 * 30 + 3, 336375.0 + 40 * 30 - 5, 4460595.0 + 20 * 30 - 1)
    res = store.read_window(bbox, 32613, years=[2009])
    # rows 41..51 from the top, columns 25..39: straddles the CO-A / CO-B edge at column 31
    assert res.shape == (10, 15)
    assert res.transform == Affine(30, 0, 336375.0 + 25 * 30, 0, -30, 4462425.0 - 41 * 30)
    np.testing.assert_array_equal(res.indices[0], utm_site.years[2009].indices[:, 41:51, 25:40])


def test_coarser_resolution_is_nearest(utm_site: Site) -> None:
    res = EsdStore.open(utm_site.root).read_window(SITE_BOUNDS, 32613, years=[2009], resolution=60)
    assert res.shape == (31, 31)
    real = utm_site.years[2009].indices
    # each 60 m pixel takes the 30 m pixel containing its centre (row/col 2i+1, except past the edge)
    np.testing.assert_array_equal(res.indices[0][:, :30, :30], real[:, 1::2, 1::2][:, :30, :30])


def nearest_through(
    transform: Affine, shape: tuple[int, int], crs: str, src_crs, src_transform: Affine, src: np.ndarray
) -> np.ndarray:
    """Independent nearest lookup: for each output pixel centre, the value of ``src`` (..., h, w) at the
    pixel containing it; -1 where outside."""
    h, w = shape
    cc, rr = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x, y = cast(Any, transform) @ (cc, rr)  # affine's stub: floats only
    sx, sy = rasterio.warp.transform(crs, src_crs, x.ravel().tolist(), y.ravel().tolist())
    col, row = ~src_transform @ (np.asarray(sx), np.asarray(sy))
    col, row = np.floor(col).astype(int), np.floor(row).astype(int)
    inside = (col >= 0) & (col < src.shape[-1]) & (row >= 0) & (row < src.shape[-2])
    out = np.full(src.shape[:-2] + (h * w,), -1, dtype=np.int64)
    out[..., inside] = src[..., row[inside], col[inside]]
    return out.reshape(src.shape[:-2] + (h, w))


def test_window_in_geographic_crs_over_utm_tiles(utm_site: Site) -> None:
    store = EsdStore.open(utm_site.root)
    w, s, e, n = -106.92, 40.285, -106.9, 40.3  # overlaps the east and north edges of the site
    res = store.read_window((w, s, e, n), "EPSG:4326", years=[2009], resolution=0.0002)
    assert res.crs.to_epsg() == 4326 and res.shape == (75, 100)
    real = utm_site.years[2009]
    expected = nearest_through(res.transform, res.shape, "EPSG:4326", UTM13, real.transform, real.indices)
    inside = expected[0] >= 0
    assert 0.3 < inside.mean() < 1.0  # the window pokes out of the site
    match = (res.indices[0] == expected).all(axis=0)[inside].mean()
    assert match > 0.99, match
    assert not res.valid[0][~inside].any()


def test_window_over_two_crs(mixed_site: Site) -> None:
    store = EsdStore.open(mixed_site.root)
    assert {t.epsg for t in store.tiles} == {32613, 4326}
    res = store.read_window(SITE_BOUNDS, "EPSG:32613", years=[2009])
    real = mixed_site.years[2009]
    np.testing.assert_array_equal(res.indices[0][:, :, :SPLIT], real.indices[:, :, :SPLIT])  # UTM tile: exact
    geo = read_tile(mixed_site.root / tile_filename("CO-G", 2009))
    expected = nearest_through(res.transform, res.shape, "EPSG:32613", geo.crs, geo.transform, geo.indices)
    right = np.zeros((61, 61), bool)
    right[:, SPLIT:] = True
    geo_valid = (
        nearest_through(
            res.transform, res.shape, "EPSG:32613", geo.crs, geo.transform, geo.valid.astype(np.int64)[None]
        )[0]
        == 1
    )
    check = right & geo_valid
    assert check[:, SPLIT:].mean() > 0.95  # the geographic tile fills the right half
    assert (res.indices[0] == expected).all(axis=0)[check].mean() > 0.99
    # the round trip UTM -> lon/lat -> UTM with nearest keeps most pixels where they were
    assert (res.indices[0] == real.indices).all(axis=0)[check].mean() > 0.6


def test_points_all_strategies(utm_site: Site) -> None:
    store = EsdStore.open(utm_site.root)
    lon, lat, row, col = site_lonlat(np.random.default_rng(0), 300)
    lon = np.append(lon, [-100.0])  # far away
    lat = np.append(lat, [45.0])
    years = [2009, 2010, 2011, 2015]
    strategies: tuple[PointStrategy, ...] = ("block", "window", "pixel")
    results = [store.read_points(lon, lat, years, strategy=s) for s in strategies]
    res = results[0]
    assert res.indices.shape == (301, 4, 12) and res.embeddings.shape == (301, 4, 12, 6)
    for y, year in enumerate(years[:3]):
        real = utm_site.years[year]
        np.testing.assert_array_equal(res.valid[:300, y], real.valid[row, col])
        np.testing.assert_array_equal(res.indices[:300, y], real.indices[:, row, col].T)
        np.testing.assert_array_equal(res.qa[:300, y], real.qa[row, col])
    np.testing.assert_array_equal(
        res.embeddings[:300, 0], indices_to_codes(utm_site.years[2009].indices[:, row, col].T)
    )
    assert not res.valid[300].any() and not res.valid[:, 3].any() and not res.embeddings[300].any()
    for other in results[1:]:
        np.testing.assert_array_equal(other.indices, res.indices)
        np.testing.assert_array_equal(other.valid, res.valid)


def test_points_in_geographic_tile(mixed_site: Site) -> None:
    store = EsdStore.open(mixed_site.root)
    lon, lat, _, _ = site_lonlat(np.random.default_rng(1), 200)
    res = store.read_points(lon, lat, [2009])
    geo = read_tile(mixed_site.root / tile_filename("CO-G", 2009))
    utm = read_tile(mixed_site.root / tile_filename("CO-A", 2009))
    x, y = rasterio.warp.transform("EPSG:4326", UTM13, lon.tolist(), lat.tolist())
    ucol, urow = (np.floor(v).astype(int) for v in ~utm.transform @ (np.asarray(x), np.asarray(y)))
    gcol, grow = (np.floor(v).astype(int) for v in ~geo.transform @ (lon, lat))
    in_utm = ucol < SPLIT  # each point: the pixel containing it, UTM tile first (sorted by EPSG), else CO-G
    assert 0.3 < in_utm.mean() < 0.7
    np.testing.assert_array_equal(res.indices[in_utm, 0], utm.indices[:, urow[in_utm], ucol[in_utm]].T)
    g = ~in_utm
    np.testing.assert_array_equal(res.valid[g, 0], geo.valid[grow[g], gcol[g]])
    np.testing.assert_array_equal(res.indices[g, 0], geo.indices[:, grow[g], gcol[g]].T)


def test_no_coverage_raises_clear_error(utm_site: Site) -> None:
    store = EsdStore.open(utm_site.root)
    with pytest.raises(NoCoverageError, match=r"no tile of the store covers .* years \[2009\]"):
        store.read_window((10.0, 45.0, 10.1, 45.1), "EPSG:4326", years=[2009])
    with pytest.raises(NoCoverageError, match="store years: \\[2009, 2010, 2011\\]"):
        store.read_window(SITE_BOUNDS, 32613, years=[1999])
    with pytest.raises(NoCoverageError, match="none of the 1 points"):
        store.read_points([10.0], [45.0], [2009])
    with pytest.raises(StoreError, match="left < right"):
        store.read_window((1, 1, 0, 2), 32613)
    with pytest.raises(StoreError, match="pixel-years"):
        store.read_window(SITE_BOUNDS, 32613, resolution=0.01)


def test_open_skips_bad_files_and_from_tiles(utm_site: Site, tmp_path: Path) -> None:
    expected = _bad_files(tmp_path)
    store = EsdStore.open(tmp_path, check_data=True)
    assert [t.tile_id for t in store.tiles] == ["GOOD"]
    reasons = {Path(u).name: r for u, r in store.rejected}
    assert set(reasons) == set(expected)
    for name, reason in reasons.items():
        assert name in reason
    rows = [t.to_record() for t in EsdStore.open(utm_site.root).tiles]
    sub = EsdStore.from_tiles([r for r in rows if r["tile_id"] == "CO-B"])
    res = sub.read_window(SITE_BOUNDS, 32613, years=[2009])
    assert not res.valid[0][:, :SPLIT].any() and res.valid[0][:, SPLIT:].all()


def test_catalog_and_cli(utm_site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    path, rejected = write_catalog(utm_site.root)
    assert rejected == [] and path.name == "catalog.json"
    assert main(["summary", str(utm_site.root)]) == 0
    assert '"2011": [\n   "CO-A"\n  ]' in capsys.readouterr().out
    lon, lat, row, col = site_lonlat(np.random.default_rng(2), 1)
    assert main(["points", str(utm_site.root), "--lonlat", str(lon[0]), str(lat[0]), "--years", "2009"]) == 0
    out = capsys.readouterr().out
    assert str(utm_site.years[2009].indices[0, row[0], col[0]]) in out
