"""Change/transition products on real Mato Grosso MODIS pixel-years (dtwSat lucc_MT, 2008-2013).

The 27 x 37 MODIS sinusoidal cube is composited to 12 monthly steps per crop year (Sep-Aug), its 6
bands standardized and quantized with the ESD FSQ codec (real, spatially structured ESD-format codes),
and every pixel-year classified by the nearest class centroid of the real labelled points
(``samples_MT.shp``). Synthetic arrays only for edge cases (all nodata, one year, bad inputs).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import rasterio.warp
from affine import Affine
from pyproj import Geod
from rasterio.crs import CRS

from ml.change import (
    NODATA_CLASS,
    SIMILARITY_CHANGE_THRESHOLD,
    _pixel_area_laea,
    area_by_class,
    change_maps,
    change_statistics,
    consecutive_similarity,
    cosine_similarity,
    decode_from_to,
    esd_preview_rgb,
    from_to,
    from_to_legend,
    pixel_area_ha,
    transition_matrix,
)
from ml.errors import ProductError
from ml.esd.codec import decode_steps, quantize

SHARED_DATA = Path(
    os.environ.get("ESD_SHARED_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
)
MT = SHARED_DATA / "rasters" / "modis_matogrosso_dtwsat" / "lucc_MT_2007_2013"
SINOP_4326 = SHARED_DATA / "rasters" / "sinop_modis" / "sinop_ndvi_2014.tif"
MT_YEARS = (2008, 2009, 2010, 2011, 2012, 2013)  # crop years Sep(y-1)..Aug(y) fully inside the cube
MODIS_PIXEL_HA = 231.656358263958**2 / 10_000  # MOD13Q1 250 m pixel on the equal-area sinusoidal grid


@dataclass(frozen=True)
class MtSeries:
    """The real Mato Grosso grid as a multi-year ESD-like series with classes."""

    years: tuple[int, ...]
    codes: np.ndarray  # (Y, 12, 6, H, W) float32 decoded FSQ codes
    valid: np.ndarray  # (Y, H, W) bool
    classes: np.ndarray  # (Y, H, W) uint8 nearest-centroid class of each pixel-year
    class_names: tuple[str, ...]
    crs: CRS  # MODIS sinusoidal
    transform: Affine  # 231.66 m


def _date_of(path: Path) -> date:
    yyyydoy = path.stem.rsplit("_A", 1)[1]
    return date.fromordinal(date(int(yyyydoy[:4]), 1, 1).toordinal() + int(yyyydoy[4:]) - 1)


@lru_cache(maxsize=1)
def mt_series() -> MtSeries:
    """Composite, quantize and classify the real lucc_MT cube (about 1 s)."""
    files = sorted(MT.glob("MOD13Q1_*.tif"))
    with rasterio.open(files[0]) as src:
        crs, transform, h, w = src.crs, src.transform, src.height, src.width
    sums = np.zeros((len(MT_YEARS), 12, 6, h, w))
    counts = np.zeros((len(MT_YEARS), 12, 1, h, w))  # clear observations per pixel-month
    for f in files:
        d = _date_of(f)
        crop_year = d.year + (d.month >= 9)
        if crop_year not in MT_YEARS:
            continue
        with rasterio.open(f) as src:
            bands = src.read(indexes=[1, 2, 3, 4, 5, 6])  # ndvi, evi, red, nir, mir, blue
            ok = (bands != src.nodata).all(axis=0)  # a few real pixels are nodata (-1.7e308)
        y, m = MT_YEARS.index(crop_year), (d.month - 9) % 12
        sums[y, m] += np.where(ok, bands, 0.0)
        counts[y, m, 0] += ok
    valid = np.asarray((counts > 0).all(axis=(1, 2)))  # (Y, H, W): every month of the pixel-year observed
    monthly = sums / np.maximum(counts, 1)  # (Y, 12, 6, H, W)
    vals = np.moveaxis(monthly, 2, -1)[np.broadcast_to(valid[:, None], (len(MT_YEARS), 12, h, w))]  # (N, 6)
    z = (monthly - vals.mean(axis=0)[:, None, None]) / vals.std(axis=0)[:, None, None]
    indices = np.where(valid[:, None], quantize(np.moveaxis(z, 2, -1)), 0)  # (Y, 12, H, W)
    codes = decode_steps(indices)  # (Y, 12, 6, H, W)

    samples = pyogrio.read_dataframe(MT / "samples_MT.shp")
    xs, ys = rasterio.warp.transform(
        "EPSG:4326", crs, samples.geometry.x.tolist(), samples.geometry.y.tolist()
    )
    rows, cols = rasterio.transform.rowcol(transform, xs, ys)
    names = tuple(sorted(samples["group"].unique()))
    flat = codes.reshape(len(MT_YEARS), 72, h, w)
    centroids = np.zeros((len(names), 72))
    for k, name in enumerate(names):
        picks = []
        for r, c, start, group in zip(rows, cols, samples["from"], samples["group"], strict=True):
            year = int(start[:4]) + 1
            if (
                group == name
                and 0 <= r < h
                and 0 <= c < w
                and year in MT_YEARS
                and valid[MT_YEARS.index(year), r, c]
            ):
                picks.append(flat[MT_YEARS.index(year), :, r, c])
        centroids[k] = np.mean(picks, axis=0)
    dist = ((flat[:, None] - centroids[None, :, :, None, None]) ** 2).sum(axis=2)  # (Y, K, H, W)
    classes = np.where(valid, dist.argmin(axis=1), NODATA_CLASS).astype(np.uint8)
    return MtSeries(MT_YEARS, codes, valid, classes, names, crs, transform)


@pytest.fixture(scope="module")
def mt() -> MtSeries:
    if not MT.is_dir():
        pytest.fail(f"shared data not found at {MT}; set ESD_SHARED_DATA")
    return mt_series()


def _reference_change(
    classes: np.ndarray, years: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain-loop reference of count / first / last change year."""
    _, h, w = classes.shape
    count = np.full((h, w), 255, dtype=np.int64)
    first = np.zeros((h, w), dtype=np.int64)
    last = np.zeros((h, w), dtype=np.int64)
    for r in range(h):
        for c in range(w):
            n, seen = 0, False
            for i in range(1, len(years)):
                a, b = classes[i - 1, r, c], classes[i, r, c]
                if a == NODATA_CLASS or b == NODATA_CLASS:
                    continue
                seen = True
                if a != b:
                    n += 1
                    first[r, c] = first[r, c] or years[i]
                    last[r, c] = years[i]
            if seen:
                count[r, c] = n
    return count, first, last


# --- real data -------------------------------------------------------------------------------------------


def test_mt_classes_are_real_mixtures(mt: MtSeries) -> None:
    # the fixture itself: the five real groups all occur; real nodata pixels (no observation in some
    # month of 2009) are nodata classes
    assert mt.classes.shape == (6, 27, 37)
    assert set(np.unique(mt.classes[mt.valid])) == set(range(len(mt.class_names)))
    np.testing.assert_array_equal(mt.classes == NODATA_CLASS, ~mt.valid)
    assert 0 < (~mt.valid).sum() < 0.05 * mt.valid.size


def test_change_maps_match_reference_on_real_classes(mt: MtSeries) -> None:
    cm = change_maps(mt.classes, mt.years)
    count, first, last = _reference_change(mt.classes, mt.years)
    np.testing.assert_array_equal(cm.change_count, count)
    np.testing.assert_array_equal(cm.first_change_year, first)
    np.testing.assert_array_equal(cm.last_change_year, last)
    assert cm.change_count.dtype == np.uint8
    assert cm.first_change_year.dtype == cm.last_change_year.dtype == np.uint16
    assert cm.changed.shape == (5, 27, 37)
    assert cm.observed.all()
    # real crop rotations: some pixels change, others (forest) stay
    assert 0.05 < cm.changed_fraction < 0.95
    assert set(np.unique(cm.last_change_year)) <= {0, *mt.years[1:]}
    assert (cm.last_change_year >= cm.first_change_year).all()


def test_change_maps_with_nodata_years(mt: MtSeries) -> None:
    classes = mt.classes.copy()
    classes[2, :5] = NODATA_CLASS  # one cloudy year in the top rows
    classes[:, :, -1] = NODATA_CLASS  # a column never classified
    classes[1:, :, -2] = NODATA_CLASS  # a column classified once only
    cm = change_maps(classes, mt.years)
    count, first, last = _reference_change(classes, mt.years)
    np.testing.assert_array_equal(cm.change_count, count)
    np.testing.assert_array_equal(cm.first_change_year, first)
    np.testing.assert_array_equal(cm.last_change_year, last)
    assert (cm.change_count[:, -2:] == 255).all()
    assert (cm.last_change_year[:, -2:] == 0).all()
    assert not cm.changed[1:3, :5].any()  # pairs touching the nodata year are not changes


def test_similarity_is_lower_where_classes_change(mt: MtSeries) -> None:
    sim = consecutive_similarity(mt.codes, mt.valid)
    assert sim.shape == (5, 27, 37) and sim.dtype == np.float32
    np.testing.assert_array_equal(np.isfinite(sim), mt.valid[1:] & mt.valid[:-1])
    assert (sim[np.isfinite(sim)] >= -1).all() and (sim[np.isfinite(sim)] <= 1).all()
    # one pixel against a direct 72-dim cosine
    a, b = mt.codes[3, :, :, 10, 20].ravel(), mt.codes[4, :, :, 10, 20].ravel()
    assert sim[3, 10, 20] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-6)
    # real signal: pixel-years whose class changed are less similar to the year before
    changed = change_maps(mt.classes, mt.years).changed
    stable = ~changed & np.isfinite(sim)
    assert np.median(sim[changed]) < np.median(sim[stable]) - 0.05
    assert (sim < SIMILARITY_CHANGE_THRESHOLD).sum() < sim.size  # not everything flagged


def test_cosine_similarity_nan_where_invalid_or_zero(mt: MtSeries) -> None:
    a, b = mt.codes[2].copy(), mt.codes[3].copy()  # 2010, 2011: no real nodata
    va, vb = mt.valid[2].copy(), mt.valid[3].copy()
    va[0, :4] = False
    vb[1, :4] = False
    a[:, :, 2, 0] = 0.0  # all-zero vector
    b[:, :, 3, 0] = np.nan
    sim = cosine_similarity(a, b, va, vb)
    assert np.isnan(sim[0, :4]).all() and np.isnan(sim[1, :4]).all()
    assert np.isnan(sim[2, 0]) and np.isnan(sim[3, 0])
    assert np.isfinite(sim[4:]).all()
    same = cosine_similarity(a, a, mt.valid[2], mt.valid[2])
    np.testing.assert_allclose(same[4:], 1.0, atol=1e-6)


def test_from_to_round_trip_and_legend(mt: MtSeries) -> None:
    n = len(mt.class_names)
    y0, y1 = mt.classes[2].copy(), mt.classes[3]  # 2010, 2011: no real nodata
    y0[0, 0] = NODATA_CLASS
    code = from_to(y0, y1, n)
    assert code.dtype == np.uint16 and code[0, 0] == 0
    assert code.max() <= n * n and (code[1:] >= 1).all()
    src, dst = decode_from_to(code, n)
    np.testing.assert_array_equal(src, y0)
    np.testing.assert_array_equal(dst[1:], y1[1:])
    assert dst[0, 0] == NODATA_CLASS
    legend = dict(from_to_legend(mt.class_names))
    assert len(legend) == n * n
    r, c = 5, 7
    assert legend[int(code[r, c])] == f"{mt.class_names[y0[r, c]]} → {mt.class_names[y1[r, c]]}"
    changed_only = from_to_legend(mt.class_names, changed_only=True)
    assert len(changed_only) == n * (n - 1) and all(" → " in label for _, label in changed_only)
    assert "Forest → Forest" not in dict(changed_only).values()


def test_area_and_transitions_on_real_grid(mt: MtSeries) -> None:
    n = len(mt.class_names)
    area = pixel_area_ha(mt.transform, mt.crs, 27, 37)
    by_class = area_by_class(mt.classes, area, n)
    assert by_class.shape == (6, n)
    np.testing.assert_allclose(by_class.sum(axis=1), mt.valid.sum(axis=(1, 2)) * MODIS_PIXEL_HA, rtol=1e-9)
    np.testing.assert_allclose(by_class[0], np.bincount(mt.classes[0].ravel(), minlength=n) * MODIS_PIXEL_HA)
    cm = change_maps(mt.classes, mt.years)
    for i in range(5):
        m = transition_matrix(mt.classes[i], mt.classes[i + 1], area, n)
        both = mt.valid[i] & mt.valid[i + 1]  # pairs with a nodata year are not counted
        pair = np.where(both, mt.classes[i : i + 2], NODATA_CLASS)
        np.testing.assert_allclose(m.sum(axis=1), area_by_class(pair[0], area, n)[0])  # rows: from
        np.testing.assert_allclose(m.sum(axis=0), area_by_class(pair[1], area, n)[0])  # columns: to
        if both.all():
            np.testing.assert_allclose(m.sum(axis=1), by_class[i])
        np.testing.assert_allclose(m.sum() - np.trace(m), area[cm.changed[i]].sum())
    # a scalar area gives the same
    np.testing.assert_allclose(area_by_class(mt.classes, MODIS_PIXEL_HA, n), by_class)


def test_change_statistics_is_json_ready(mt: MtSeries) -> None:
    area = pixel_area_ha(mt.transform, mt.crs, 27, 37)
    stats = json.loads(json.dumps(change_statistics(mt.classes, mt.years, area, mt.class_names)))
    assert stats["years"] == list(mt.years) and stats["classes"] == list(mt.class_names)
    assert len(stats["area_ha"]) == 6 and len(stats["transitions"]) == 5
    assert stats["total_ha"][0] == pytest.approx(27 * 37 * MODIS_PIXEL_HA, rel=1e-6)
    t = stats["transitions"][0]
    assert (t["from_year"], t["to_year"]) == (2008, 2009)
    both = mt.valid[0] & mt.valid[1]
    assert np.sum(t["matrix_ha"]) == pytest.approx(both.sum() * MODIS_PIXEL_HA, rel=1e-6)
    cm = change_maps(mt.classes, mt.years)
    assert stats["changed_ha_any"] == pytest.approx(
        float((cm.last_change_year > 0).sum() * MODIS_PIXEL_HA), 1e-6
    )


def test_pixel_area_modis_sinusoidal(mt: MtSeries) -> None:
    area = pixel_area_ha(mt.transform, mt.crs, 27, 37)
    assert area.shape == (27, 37)
    assert mt.transform.a == pytest.approx(231.656, abs=1e-3)
    np.testing.assert_allclose(area, 5.3665, atol=1e-3)  # equal-area grid: 231.66 m squared
    np.testing.assert_allclose(area, MODIS_PIXEL_HA, rtol=1e-6)


def test_pixel_area_geographic_matches_geodesic() -> None:
    # 0.01 degree at the equator: 123.09 ha on WGS84 (123.64 ha on a sphere of the authalic radius)
    at_equator = pixel_area_ha(Affine(0.01, 0, 0, 0, -0.01, 0.005), "EPSG:4326", 1, 1)
    assert at_equator[0, 0] == pytest.approx(123.09, abs=0.01)
    sphere = pixel_area_ha(Affine(0.01, 0, 0, 0, -0.01, 0.005), "+proj=longlat +R=6371007.181 +no_defs", 1, 1)
    assert sphere[0, 0] == pytest.approx(123.64, abs=0.01)
    # the real Sinop EPSG:4326 grid against pyproj.Geod polygon areas of a few pixels
    with rasterio.open(SINOP_4326) as src:
        t, crs, h, w = src.transform, src.crs, src.height, src.width
    area = pixel_area_ha(t, crs, h, w)
    geod = Geod(ellps="WGS84")
    for r, c in [(0, 0), (h - 1, w - 1), (h // 2, 3)]:
        corners = [t @ (c, r + 1), t @ (c + 1, r + 1), t @ (c + 1, r), t @ (c, r)]  # counter-clockwise
        ref, _ = geod.polygon_area_perimeter([p[0] for p in corners], [p[1] for p in corners])
        assert area[r, c] == pytest.approx(ref / 10_000, rel=1e-6)
    # far from the equator and from the grid centre, still geodesic
    north = pixel_area_ha(Affine(0.5, 0, 10, 0, -0.5, 62), "EPSG:4326", 4, 8)
    ref, _ = geod.polygon_area_perimeter([13.5, 14, 14, 13.5], [60.5, 60.5, 61, 61])
    assert north[2, 7] == pytest.approx(ref / 10_000, rel=1e-4)


def test_pixel_area_shortcuts_agree_with_measuring_every_pixel(mt: MtSeries) -> None:
    # equal-area CRSs: |det| (MODIS sinusoidal sphere, EASE-Grid 2.0 on WGS84) vs projected corners
    from pyproj import CRS as ProjCRS

    sinus = ProjCRS.from_wkt(mt.crs.to_wkt())
    np.testing.assert_allclose(
        pixel_area_ha(mt.transform, mt.crs, 27, 37), _pixel_area_laea(mt.transform, sinus, 27, 37), rtol=1e-6
    )
    ease = Affine(1000.0, 0, -5_400_000, 0, -1000.0, -1_300_000)  # 1 km EASE-Grid 2.0 over Mato Grosso
    np.testing.assert_allclose(
        pixel_area_ha(ease, "EPSG:6933", 20, 30),
        _pixel_area_laea(ease, ProjCRS("EPSG:6933"), 20, 30),
        rtol=1e-6,
    )
    # north-up geographic grid: one column repeated vs every pixel (real Sinop EPSG:4326 grid)
    with rasterio.open(SINOP_4326) as src:
        t, h, w = src.transform, src.height, src.width
    np.testing.assert_allclose(
        pixel_area_ha(t, "EPSG:4326", h, w), _pixel_area_laea(t, ProjCRS("EPSG:4326"), h, w), rtol=1e-9
    )
    # a rotated geographic grid takes the general path and still matches the geodesic area
    rot = Affine.translation(-55.7, -11.7) @ Affine.rotation(10) @ Affine.scale(0.01, -0.01)
    corners = [rot @ (0, 1), rot @ (1, 1), rot @ (1, 0), rot @ (0, 0)]
    ref, _ = Geod(ellps="WGS84").polygon_area_perimeter([p[0] for p in corners], [p[1] for p in corners])
    assert pixel_area_ha(rot, "EPSG:4326", 2, 2)[0, 0] == pytest.approx(abs(ref) / 10_000, rel=1e-6)


def test_pixel_area_utm_scale_factor() -> None:
    # 30 m UTM pixels on the central meridian cover 30^2 / 0.9996^2 m2 on the ground
    area = pixel_area_ha(Affine(30, 0, 500_000, 0, -30, 4_500_000), "EPSG:32613", 3, 3)
    np.testing.assert_allclose(area, 0.09 / 0.9996**2, rtol=1e-6)


def test_esd_preview_rgb_from_real_codes(mt: MtSeries) -> None:
    codes, valid = mt.codes[2], mt.valid[2].copy()
    valid[0, :3] = False
    rgba = esd_preview_rgb(codes, valid)
    assert rgba.shape == (4, 27, 37) and rgba.dtype == np.uint8
    mean = codes[:, [0, 1, 2]].mean(axis=0)
    np.testing.assert_array_equal(rgba[:3, 5:], np.rint((mean[:, 5:] + 1) * 127.5).astype(np.uint8))
    assert (rgba[:, 0, :3] == 0).all() and (rgba[3, 1:] == 255).all()
    assert len(np.unique(rgba[0])) > 3  # real spatial structure
    rgb = esd_preview_rgb(codes, valid, dims=(3, 4, 5), alpha=False)
    assert rgb.shape == (3, 27, 37)
    np.testing.assert_array_equal(
        rgb[:, 1:], np.rint((codes[:, [3, 4, 5]].mean(axis=0)[:, 1:] + 1) * 127.5).astype(np.uint8)
    )


# --- edge cases (synthetic) --------------------------------------------------------------------------------


def test_all_nodata_series() -> None:
    classes = np.full((3, 4, 5), NODATA_CLASS, dtype=np.uint8)
    cm = change_maps(classes, (2019, 2020, 2021))
    assert (cm.change_count == 255).all() and (cm.last_change_year == 0).all()
    assert not cm.observed.any() and np.isnan(cm.changed_fraction)
    assert (area_by_class(classes, 1.0, 3) == 0).all()
    assert (transition_matrix(classes[0], classes[1], 1.0, 3) == 0).all()
    assert (from_to(classes[0], classes[1], 3) == 0).all()
    emb = np.zeros((12, 6, 4, 5), dtype=np.float32)
    assert np.isnan(cosine_similarity(emb, emb, np.ones((4, 5), bool), np.ones((4, 5), bool))).all()
    assert (esd_preview_rgb(emb, np.zeros((4, 5), bool)) == 0).all()


def test_one_year_series(mt: MtSeries) -> None:
    cm = change_maps(mt.classes[:1], mt.years[:1])
    assert cm.changed.shape == (0, 27, 37)
    assert (cm.change_count == 255).all() and (cm.first_change_year == 0).all()
    assert consecutive_similarity(mt.codes[:1], mt.valid[:1]).shape == (0, 27, 37)
    stats = change_statistics(mt.classes[:1], mt.years[:1], 1.0, mt.class_names)
    assert stats["transitions"] == [] and stats["total_ha"] == [27 * 37]


def test_bad_inputs_raise_product_error(mt: MtSeries) -> None:
    with pytest.raises(ProductError, match="years"):
        change_maps(mt.classes, mt.years[:-1])
    with pytest.raises(ProductError, match="increasing"):
        change_maps(mt.classes[:2], (2010, 2010))
    with pytest.raises(ProductError, match="outside"):
        from_to(mt.classes[0], mt.classes[1], 3)
    with pytest.raises(ProductError, match="n_classes"):
        area_by_class(mt.classes, 1.0, 0)
    with pytest.raises(ProductError, match="pixel_area_ha"):
        area_by_class(mt.classes, np.ones((2, 2)), 5)
    with pytest.raises(ProductError, match="shape"):
        cosine_similarity(mt.codes[0], mt.codes[1][:, :, :5], mt.valid[0], mt.valid[1])
    with pytest.raises(ProductError, match="dims"):
        esd_preview_rgb(mt.codes[0], mt.valid[0], dims=(0, 1, 6))
    with pytest.raises(ProductError, match="CRS"):
        pixel_area_ha(mt.transform, "EPSG:999999", 2, 2)
    with pytest.raises(ProductError, match="codes"):
        decode_from_to(np.array([26], dtype=np.uint16), 5)
