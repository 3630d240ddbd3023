"""Find ESD tiles in the ``EsdTile`` catalog with spatial queries, and build stores for lookups."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import cast

from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.contrib.gis.geos import GEOSGeometry, MultiPoint, Point, Polygon
from django.db.models import QuerySet

from ml.esd.store import EsdStore
from ml.esd.tiles import EsdTileInfo
from ml.grid import Transform6
from monitoring.models import EsdTile

BBox = tuple[float, float, float, float]  # (west, south, east, north) in degrees, EPSG:4326


def _as_geometry(area: BBox | GEOSGeometry) -> GEOSGeometry:
    if isinstance(area, GEOSGeometry):
        geom = area.clone()
        if geom.srid is None:
            geom.srid = 4326
        if geom.srid != 4326:
            geom.transform(4326)
        return geom
    return Polygon.from_bbox(cast(BBox, tuple(float(v) for v in area)))


def esd_tiles_for_area(*, area: BBox | GEOSGeometry, years: Iterable[int] | None = None) -> QuerySet[EsdTile]:
    """Catalog rows whose footprint intersects ``area`` (a lon/lat bbox or any geometry), in ``years``."""
    geom = _as_geometry(area)
    qs = EsdTile.objects.filter(footprint__intersects=geom)
    if years is not None:
        qs = qs.filter(year__in=list(years))
    return qs.order_by("tile_id", "year")


def esd_tiles_for_points(
    *, lon: Sequence[float], lat: Sequence[float], years: Iterable[int] | None = None
) -> QuerySet[EsdTile]:
    """Catalog rows whose footprint contains at least one of the points (lon/lat degrees)."""
    points = MultiPoint([Point(float(x), float(y)) for x, y in zip(lon, lat, strict=True)], srid=4326)
    return esd_tiles_for_area(area=points, years=years)


def esd_tile_info(tile: EsdTile) -> EsdTileInfo:
    """The ml-side metadata of a catalog row (what :class:`ml.esd.store.EsdStore` reads from)."""
    return EsdTileInfo(
        uri=tile.uri,
        tile_id=tile.tile_id,
        year=tile.year,
        crs_wkt=tile.crs_wkt,
        transform=cast(Transform6, tuple(float(v) for v in tile.transform[:6])),
        width=tile.width,
        height=tile.height,
        epsg=tile.epsg,
        source=tile.source,
        size_bytes=tile.size_bytes,
        fingerprint=tile.fingerprint,
        valid_fraction=tile.valid_fraction,
    )


def esd_store_for_area(*, area: BBox | GEOSGeometry, years: Iterable[int] | None = None) -> EsdStore:
    """An :class:`EsdStore` of the catalog tiles that intersect ``area`` in ``years``; its lookups raise
    ``NoCoverageError`` when there are none."""
    rows = esd_tiles_for_area(area=area, years=years)
    return EsdStore.from_tiles([esd_tile_info(t) for t in rows], location="catalog")


def esd_store_for_points(
    *, lon: Sequence[float], lat: Sequence[float], years: Iterable[int] | None = None
) -> EsdStore:
    """An :class:`EsdStore` of the catalog tiles that contain any of the points in ``years``."""
    rows = esd_tiles_for_points(lon=lon, lat=lat, years=years)
    return EsdStore.from_tiles([esd_tile_info(t) for t in rows], location="catalog")


def esd_catalog_years() -> list[int]:
    """Years with at least one catalog tile, sorted."""
    return sorted(set(EsdTile.objects.values_list("year", flat=True)))


def esd_default_location() -> str:
    """The configured default store (``settings.ESD_STORE``: folder or URL)."""
    return str(settings.ESD_STORE)


def esd_coverage() -> dict:
    """The store's coverage: ``{"years", "bounds": [w, s, e, n] | None, "footprints": FeatureCollection}``.

    One feature per catalog tile (``properties``: ``tile_id``, ``year``), footprints in EPSG:4326.
    """
    rows = EsdTile.objects.order_by("year", "tile_id").only("tile_id", "year", "footprint")
    extent = EsdTile.objects.aggregate(extent=Extent("footprint"))["extent"]
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(t.footprint.geojson),
            "properties": {"tile_id": t.tile_id, "year": t.year},
        }
        for t in rows
    ]
    return {
        "years": sorted({f["properties"]["year"] for f in features}),
        "bounds": list(extent) if extent else None,
        "footprints": {"type": "FeatureCollection", "features": features},
    }
