"""Pre-rendering of an analysis' first-view map tiles into the tile cache, once the analysis is done.

The map page opens a finished analysis fitted to its AOI (at most zoom 15) on the land cover of a year,
and asks for the neighbouring years' tiles while the slider moves. Those tiles are drawn by the worker
that finalized the analysis, right after it is marked done (the user does not wait for them), under the
same ETags the tile API computes, so the first view of a map is served from the cache.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import morecantile
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache

from monitoring.models import Analysis, MapProduct
from monitoring.tiles import TileNotFound, cached_tile, product_etag, render_product_tile

log = logging.getLogger(__name__)

FIRST_VIEW_KINDS: tuple[str, ...] = ("landcover", "change_count", "change_last_year")  # the map's layers
MAX_ZOOM: int = 15  # the map page's fitBounds maxZoom and the products' maxNativeZoom
FIT_TILES: int = 2  # the first zoom: the highest at which the AOI spans at most this many tiles a side
TMS = morecantile.tms.get("WebMercatorQuad")

Tile = tuple[int, int, int]  # (z, x, y)
BBox = tuple[float, float, float, float]  # (west, south, east, north) in degrees


def first_view_tiles(bounds: BBox, max_tiles: int) -> list[Tile]:
    """XYZ tiles over ``bounds``: whole zoom levels from the one where the box spans at most
    :data:`FIT_TILES` tiles a side, deeper while the total stays within ``max_tiles`` (up to zoom 15)."""
    west, south, east, north = bounds
    first = 0
    for z in range(MAX_ZOOM + 1):
        ul, lr = TMS.tile(west, north, z), TMS.tile(east, south, z)
        if lr.x - ul.x + 1 <= FIT_TILES and lr.y - ul.y + 1 <= FIT_TILES:
            first = z
    tiles: list[Tile] = []
    for z in range(first, MAX_ZOOM + 1):
        level = [(t.z, t.x, t.y) for t in TMS.tiles(west, south, east, north, [z])]
        if tiles and len(tiles) + len(level) > max_tiles:
            break
        tiles.extend(level)
    return tiles


def analysis_prerender_tiles(*, analysis_id: int, max_tiles: int | None = None) -> int:
    """Draw the first-view tiles (:func:`first_view_tiles`, ``max_tiles`` per product: the
    ``ESD_PRERENDER_TILES`` setting by default) of the analysis' land-cover and change maps into the
    tile cache; returns how many were drawn (tiles already cached are skipped). Nothing without a
    tile cache. Failures are logged, never raised: the analysis is already done."""
    limit = settings.ESD_PRERENDER_TILES if max_tiles is None else max_tiles
    if limit <= 0 or isinstance(caches["tiles"], DummyCache):
        return 0
    start = time.perf_counter()
    analysis = Analysis.objects.select_related("aoi", "label_set").get(pk=analysis_id)
    tiles = first_view_tiles(analysis.aoi.geometry.extent, limit)
    drawn = 0
    try:
        for product in _products(analysis):
            for z, x, y in tiles:
                rendered = False

                def draw(p: MapProduct = product, z: int = z, x: int = x, y: int = y) -> bytes:
                    nonlocal rendered
                    rendered = True
                    return render_product_tile(p, z, x, y)

                with contextlib.suppress(TileNotFound):  # no data there: remembered as such
                    cached_tile(product_etag(product, z, x, y), draw)
                drawn += rendered
    except Exception:  # noqa: BLE001 - an optimisation: the tiles render on demand anyway
        log.warning("pre-rendering the tiles of analysis %s stopped", analysis_id, exc_info=True)
    log.info(
        "analysis %s: %d first-view tiles drawn in %.1f s", analysis_id, drawn, time.perf_counter() - start
    )
    return drawn


def _products(analysis: Analysis) -> Iterator[MapProduct]:
    """The analysis' first-view map products, land cover first, latest year first."""
    products = analysis.products.filter(kind__in=FIRST_VIEW_KINDS)
    for product in sorted(products, key=lambda p: (p.kind != "landcover", p.kind, -(p.year or 0))):
        product.analysis = analysis  # one analysis and label set for all ETags
        yield product
