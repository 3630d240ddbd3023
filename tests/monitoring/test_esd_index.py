"""``esd_index`` fills the EsdTile catalog from real tiles (folder and HTTP); selectors find them spatially."""

from __future__ import annotations

import json
import os
import shutil
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from django.core.management import CommandError, call_command

from ml.errors import NoCoverageError
from ml.esd.store import write_catalog
from ml.esd.tiles import tile_filename, write_tile
from monitoring.models import EsdTile
from monitoring.selectors.esd_catalog import esd_store_for_area, esd_store_for_points, esd_tiles_for_area
from monitoring.services.esd_catalog import esd_index
from testkit.range_server import serve_folder
from tests.ml.esd.real_tiles import UTM13, colorado_year
from tests.ml.esd.test_tiles import _bad_files

SITE_LONLAT = (-106.9252, 40.2798, -106.9032, 40.2967)  # lon/lat box of the 61 x 61 px Colorado site
SITE_BOUNDS = (336375.0, 4460595.0, 338205.0, 4462425.0)  # EPSG:32613


def write_store(root: Path) -> None:
    """Real Colorado tiles: CO-A (columns 0..30) 2009 and 2010, CO-B (columns 31..60) 2009."""
    for year, tiles in ((2009, ("CO-A", "CO-B")), (2010, ("CO-A",))):
        real = colorado_year(year)
        for tile in tiles:
            c0, c1 = (0, 31) if tile == "CO-A" else (31, 61)
            write_tile(
                root,
                tile,
                year,
                real.indices[:, :, c0:c1],
                real.qa[:, c0:c1],
                real.valid[:, c0:c1],
                UTM13,
                real.transform @ Affine.translation(c0, 0),
                blocksize=16,
            )


@pytest.mark.django_db
def test_index_folder_idempotent_with_rejections(tmp_path: Path) -> None:
    write_store(tmp_path)
    bad = _bad_files(tmp_path)  # plus one good tile "GOOD" 2009 over the same site
    (tmp_path / "README.txt").write_text("not a tile, not a .tif: ignored")
    report = esd_index(location=str(tmp_path))
    assert len(report.new) == 4 and not report.updated and not report.unchanged
    rejected = {Path(u).name: r for u, r in report.rejected}
    assert set(rejected) == set(bad)
    assert "has 12 bands" in rejected["SDC30_EBD_V001_BANDS_2009.tif"]
    assert "SDC30_EBD_V001_TXT_2009.tif" in rejected["SDC30_EBD_V001_TXT_2009.tif"]

    row = EsdTile.objects.get(tile_id="CO-B", year=2009)
    assert row.uri == str((tmp_path / tile_filename("CO-B", 2009)).resolve())
    assert (row.epsg, row.width, row.height, row.resolution) == (32613, 30, 61, 30.0)
    assert row.transform == [30.0, 0.0, 337305.0, 0.0, -30.0, 4462425.0]
    assert row.source == EsdTile.Source.ENCODED and row.valid_fraction == 1.0
    w, s, e, n = row.footprint.extent
    assert -106.915 < w < e < -106.90 and 40.279 < s < n < 40.297

    again = esd_index(location=str(tmp_path))
    assert len(again.unchanged) == 4 and not again.new and not again.updated and len(again.rejected) == 5

    path = tmp_path / tile_filename("CO-A", 2010)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file changed
    third = esd_index(location=str(tmp_path))
    assert [Path(u).name for u in third.updated] == [path.name] and len(third.unchanged) == 3

    path.unlink()
    pruned = esd_index(location=str(tmp_path), prune=True)
    assert [Path(u).name for u in pruned.removed] == [path.name]
    assert EsdTile.objects.count() == 3


@pytest.mark.django_db
def test_selectors_spatial_query_and_lookups(tmp_path: Path) -> None:
    write_store(tmp_path)
    esd_index(location=str(tmp_path))
    assert esd_tiles_for_area(area=SITE_LONLAT).count() == 3
    assert esd_tiles_for_area(area=SITE_LONLAT, years=[2010]).count() == 1
    assert esd_tiles_for_area(area=(10.0, 45.0, 10.1, 45.1)).count() == 0
    west_only = (-106.925, 40.285, -106.92, 40.29)  # inside CO-A only
    assert set(esd_tiles_for_area(area=west_only).values_list("tile_id", flat=True)) == {"CO-A"}

    store = esd_store_for_area(area=SITE_LONLAT, years=[2009, 2010])
    res = store.read_window(SITE_BOUNDS, 32613, years=[2009, 2010])
    np.testing.assert_array_equal(res.indices[0], colorado_year(2009).indices)
    assert res.valid[1][:, :31].all() and not res.valid[1][:, 31:].any()

    lon, lat = [-106.924, -106.905, 10.0], [40.295, 40.281, 45.0]
    pts = esd_store_for_points(lon=lon, lat=lat, years=[2009]).read_points(lon, lat, [2009])
    assert pts.valid[:, 0].tolist() == [True, True, False]
    with pytest.raises(NoCoverageError):
        esd_store_for_area(area=(10.0, 45.0, 10.1, 45.1)).read_window((10.0, 45.0, 10.1, 45.1), 4326, [2009])


@pytest.mark.django_db
def test_command_over_http(tmp_path: Path) -> None:
    write_store(tmp_path)
    shutil.copy(tmp_path / tile_filename("CO-A", 2009), tmp_path / "SDC30_EBD_V001_13TDE_2009.tif")
    write_catalog(tmp_path)
    with serve_folder(tmp_path) as server:
        out = StringIO()
        call_command("esd_index", server.url, "--json", stdout=out)
        report = json.loads(out.getvalue())
        assert (report["new"], report["unchanged"], report["rejected"]) == (4, 0, [])
        out = StringIO()
        call_command("esd_index", server.url, stdout=out)
        assert "0 new, 0 updated, 4 unchanged, 0 rejected" in out.getvalue()
        assert EsdTile.objects.filter(uri__startswith=server.url).count() == 4
        lon, lat = [-106.924], [40.295]
        pts = esd_store_for_points(lon=lon, lat=lat, years=[2010]).read_points(lon, lat, [2010])
        assert pts.valid.all() and pts.indices.any()
    with pytest.raises(CommandError, match="not a folder"):
        call_command("esd_index", str(tmp_path / "missing"))
