"""The same store served over HTTP (range requests through GDAL) answers the same lookups."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ml.errors import StoreError
from ml.esd.store import EsdStore, write_catalog
from ml.esd.tiles import read_tile_info, tile_filename, write_tile
from testkit.range_server import RangeServer, serve_folder
from tests.ml.esd.conftest import Site
from tests.ml.esd.real_tiles import colorado_year
from tests.ml.esd.test_store import SITE_BOUNDS, site_lonlat


@pytest.fixture(scope="module")
def http_site(utm_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RangeServer, Path]]:
    root = tmp_path_factory.mktemp("http_store")
    for p in utm_site.root.glob("*.tif"):
        shutil.copy(p, root / p.name)
    write_catalog(root)
    with serve_folder(root) as server:
        yield server, root


def test_http_store_matches_local(http_site: tuple[RangeServer, Path], utm_site: Site) -> None:
    server, root = http_site
    remote = EsdStore.open(server.url + "/")
    local = EsdStore.open(root)
    assert remote.years == local.years == (2009, 2010, 2011)
    assert sorted(t.uri for t in remote.tiles) == sorted(
        f"{server.url}/{Path(t.uri).name}" for t in local.tiles
    )
    years = [2009, 2010, 2011]
    a = remote.read_window(SITE_BOUNDS, 32613, years=years)
    b = local.read_window(SITE_BOUNDS, 32613, years=years)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.valid, b.valid)
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(a.indices[0], utm_site.years[2009].indices)
    lon, lat, row, col = site_lonlat(np.random.default_rng(3), 100)
    pa = remote.read_points(lon, lat, years)
    np.testing.assert_array_equal(pa.indices, local.read_points(lon, lat, years).indices)
    np.testing.assert_array_equal(pa.indices[:, 1], utm_site.years[2010].indices[:, row, col].T)


def test_http_reads_only_needed_ranges(tmp_path: Path) -> None:
    """A small window of a bigger tile transfers a fraction of the file."""
    real = colorado_year(2010)
    idx = np.tile(real.indices, (1, 8, 8))  # 488 x 488 px built from the real site
    qa = np.tile(real.qa, (8, 8))
    path = write_tile(
        tmp_path, "BIG", 2010, idx, qa, np.ones(qa.shape, bool), 32613, real.transform, blocksize=64
    )
    write_catalog(tmp_path)
    size = path.stat().st_size
    with serve_folder(tmp_path) as server:
        store = EsdStore.open(server.url)
        before = server.bytes_sent
        t = real.transform
        bbox = (t.c + 100 * 30, t.f - 140 * 30, t.c + 130 * 30, t.f - 100 * 30)  # 30 x 40 px
        res = store.read_window(bbox, 32613, years=[2010])
        sent = server.bytes_sent - before
        assert res.shape == (40, 30)
        np.testing.assert_array_equal(res.indices[0], idx[:, 100:140, 100:130])
        assert 0 < sent < size / 4, (sent, size)
        info = read_tile_info(f"{server.url}/{tile_filename('BIG', 2010)}")
        assert info.fingerprint.startswith("etag:") and info.size_bytes == size and info.width == 488


def test_http_store_errors(tmp_path: Path) -> None:
    with serve_folder(tmp_path) as server:
        with pytest.raises(StoreError, match="cannot read the store catalog"):
            EsdStore.open(server.url)
        (tmp_path / "catalog.json").write_text('{"tiles": 3}')
        with pytest.raises(StoreError, match="not an ESD store catalog"):
            EsdStore.open(server.url + "/catalog.json")
