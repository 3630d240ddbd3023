"""ml.grid on tiny grids with a real UTM CRS: snapping, windows, masks, the AOI grid and its limits."""

from __future__ import annotations

import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from shapely.geometry import box

from ml.errors import GridError
from ml.grid import Grid, GridGeometry, Window, aligned_offsets, grid_for_aoi, snap_grid

UTM = CRS.from_epsg(32721)
RES = 30.0


class Tile(GridGeometry):
    """A stand-in for an ESD tile: only the grid fields."""

    def __init__(
        self, left: float, top: float, width: int = 100, height: int = 100, res: float = RES
    ) -> None:
        self.crs_wkt = UTM.to_wkt()
        self.transform = (res, 0.0, left, 0.0, -res, top)
        self.width, self.height = width, height


def test_geometry_of_a_tile() -> None:
    t = Tile(500_000.0, 8_700_000.0, width=4, height=3)
    assert t.crs == UTM and t.resolution == RES
    assert t.affine == Affine(RES, 0.0, 500_000.0, 0.0, -RES, 8_700_000.0)
    assert t.bounds == (500_000.0, 8_700_000.0 - 90.0, 500_000.0 + 120.0, 8_700_000.0)


def test_windows_cover_the_grid_once() -> None:
    g = Grid(UTM.to_wkt(), (RES, 0.0, 0.0, 0.0, -RES, 0.0), width=5, height=3, window_px=2)
    wins = g.windows()
    assert [w.index for w in wins] == list(range(6))
    assert wins[-1] == Window(5, 2, 4, 1, 1)  # the bottom-right window is 1 x 1
    assert sum(w.width * w.height for w in wins) == 15
    assert g.window_transform(wins[1]) == Affine(RES, 0.0, 2 * RES, 0.0, -RES, 0.0)
    assert g.window_bbox(wins[1]) == (60.0, -60.0, 120.0, 0.0)
    assert Grid.from_json(g.to_json()) == g


def test_snap_grid_snaps_outward_to_the_tile_pixels() -> None:
    tile = Tile(1000.0, 2000.0)
    g = snap_grid((1010.0, 1900.0, 1075.0, 1985.0), RES, UTM, [tile])
    assert g.transform == (RES, 0.0, 1000.0, 0.0, -RES, 2000.0)
    assert (g.width, g.height) == (3, 4)  # 1000..1090 x 1880..2000
    assert aligned_offsets(tile, g) == (0, 0)
    assert aligned_offsets(Tile(1015.0, 2000.0), g) is None  # half a pixel off: not aligned


def test_aoi_mask_and_grid_for_aoi() -> None:
    tile = Tile(500_000.0, 8_700_000.0, width=200, height=200)
    left, bottom, right, top = 500_000.0 + 300, 8_700_000.0 - 900, 500_000.0 + 900, 8_700_000.0 - 300
    lonlat = transform_bounds(UTM, "EPSG:4326", left, bottom, right, top)
    aoi = box(*lonlat)
    g = grid_for_aoi(aoi, [tile])
    assert g.crs_wkt == tile.crs_wkt and g.resolution == RES
    c, f = g.transform[2], g.transform[5]
    assert (c - tile.transform[2]) % RES == 0 and (tile.transform[5] - f) % RES == 0  # on tile pixels
    assert 20 <= g.width <= 22 and 20 <= g.height <= 22
    mask = g.aoi_mask(aoi)
    assert mask.shape == (g.height, g.width) and 0.8 < mask.mean() <= 1.0
    win = g.windows()[0]
    assert (g.aoi_mask(aoi, win) == mask[: win.height, : win.width]).all()


def test_grid_for_aoi_refuses_no_tiles_and_huge_grids() -> None:
    with pytest.raises(GridError, match="outside the ESD store"):
        grid_for_aoi(box(0, 0, 1, 1), [])
    tile = Tile(500_000.0, 8_700_000.0, res=1.0)
    huge = box(*transform_bounds(UTM, "EPSG:4326", 500_000.0, 8_690_000.0, 510_000.0, 8_700_000.0))
    with pytest.raises(GridError, match="draw a smaller AOI"):
        grid_for_aoi(huge, [tile])
