"""Coverage of the ESD catalog: where uploads and drawn AOIs can have data."""

from __future__ import annotations

from collections.abc import Iterable

from shapely import wkb
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from monitoring.models import EsdTile
from monitoring.parsers.types import CoveragePatch


def coverage_geometry(*, years: Iterable[int] | None = None) -> BaseGeometry | None:
    """Union of the catalog's footprints (lon/lat, shapely), or None when the catalog is empty."""
    qs = EsdTile.objects.all()
    if years is not None:
        qs = qs.filter(year__in=list(years))
    footprints = {bytes(fp.wkb) for fp in qs.values_list("footprint", flat=True)}
    return unary_union([wkb.loads(fp) for fp in footprints]) if footprints else None


def coverage_patches() -> list[CoveragePatch]:
    """The catalog's patches: one per store tile id, with its years and the union of its footprints."""
    years: dict[str, set[int]] = {}
    footprints: dict[str, set[bytes]] = {}
    for tile_id, year, fp in EsdTile.objects.values_list("tile_id", "year", "footprint"):
        years.setdefault(tile_id, set()).add(year)
        footprints.setdefault(tile_id, set()).add(bytes(fp.wkb))
    return [
        CoveragePatch(
            name=tile_id,
            years=tuple(sorted(years[tile_id])),
            footprint=unary_union([wkb.loads(fp) for fp in footprints[tile_id]]),
        )
        for tile_id in sorted(years)
    ]
