"""ml.sampling on a tiny UTM grid: point and polygon labels to pixel samples, windows pasted by transform."""

from __future__ import annotations

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform
from shapely.geometry import Point, Polygon

from ml.grid import Grid
from ml.sampling import label_sample_points, paste_window

UTM = CRS.from_epsg(32721)
RES = 30.0
X0, Y0 = 500_000.0, 8_700_000.0
GRID = Grid(UTM.to_wkt(), (RES, 0.0, X0, 0.0, -RES, Y0), width=20, height=20, window_px=8)


def lonlat(xs: list[float], ys: list[float]) -> list[tuple[float, float]]:
    lon, lat = warp_transform(UTM, "EPSG:4326", xs, ys)
    return list(zip(lon, lat, strict=True))


def square(col: int, row: int, n: int) -> Polygon:
    """A polygon covering ``n x n`` pixels from pixel (col, row), drawn slightly inside their edges."""
    x0, x1 = X0 + col * RES + 1, X0 + (col + n) * RES - 1
    y0, y1 = Y0 - row * RES - 1, Y0 - (row + n) * RES + 1
    return Polygon(lonlat([x0, x1, x1, x0], [y0, y0, y1, y1]))


def test_points_stay_polygons_become_pixel_centres() -> None:
    ((plon, plat),) = lonlat([X0 + 45.0], [Y0 - 45.0])
    out = label_sample_points([(7, Point(plon, plat)), (9, square(2, 3, 2))], GRID, max_polygon_pixels=64)
    assert out.label_pk.tolist() == [7, 9, 9, 9, 9]
    assert (out.lon[0], out.lat[0]) == (plon, plat)
    xs, ys = warp_transform("EPSG:4326", UTM, out.lon[1:].tolist(), out.lat[1:].tolist())
    cols = sorted(round((x - X0) / RES - 0.5) for x in xs)
    rows = sorted(round((Y0 - y) / RES - 0.5) for y in ys)
    assert cols == [2, 2, 3, 3] and rows == [3, 3, 4, 4]


def test_large_polygons_are_sampled_with_the_seed() -> None:
    labels = [(1, square(0, 0, 10))]
    a = label_sample_points(labels, GRID, max_polygon_pixels=5, seed=0)
    b = label_sample_points(labels, GRID, max_polygon_pixels=5, seed=0)
    assert a.label_pk.tolist() == [1] * 5
    assert np.array_equal(a.lon, b.lon) and np.array_equal(a.lat, b.lat)


def test_a_polygon_smaller_than_a_pixel_gives_its_representative_point() -> None:
    tiny = Polygon(lonlat([X0 + 1, X0 + 5, X0 + 5, X0 + 1], [Y0 - 1, Y0 - 1, Y0 - 5, Y0 - 5]))
    out = label_sample_points([(3, tiny)], GRID, max_polygon_pixels=64)
    rep = tiny.representative_point()
    assert out.label_pk.tolist() == [3] and (out.lon[0], out.lat[0]) == (rep.x, rep.y)


def test_paste_window_aligns_by_transform_and_clips() -> None:
    w = GRID.windows()[1]  # rows 0..7, cols 8..15
    dst_idx = np.zeros((1, 12, w.height, w.width), np.uint16)
    dst_valid = np.zeros((1, w.height, w.width), bool)
    # a 5 x 5 px read starting one pixel left of and above the window: it overhangs on two sides
    src_t = Affine(RES, 0.0, X0 + (w.col_off - 1) * RES, 0.0, -RES, Y0 + RES)
    src_idx = np.arange(25, dtype=np.uint16).reshape(1, 1, 5, 5).repeat(12, axis=1)
    src_valid = np.ones((1, 5, 5), bool)
    paste_window(src_idx, src_valid, src_t, GRID, w, dst_idx, dst_valid)
    assert dst_valid[0, :4, :4].all() and dst_valid[0].sum() == 16  # window rows/cols 0..3 only
    assert (dst_idx[0, :, :4, :4] == src_idx[0, :, 1:, 1:]).all()
    far = Affine(RES, 0.0, X0 + 100 * RES, 0.0, -RES, Y0)  # a read beside the window changes nothing
    paste_window(src_idx, src_valid, far, GRID, w, dst_idx, dst_valid)
    assert dst_valid[0].sum() == 16
