"""What the ESD store covers, as the map page's first screen shows it: one named patch per tile id.

A newcomer needs to see where data exists before drawing anything, so every tile id of the catalog
becomes a *patch*: the union of its footprints, a human name ("Mato Grosso, MODIS"), its years and a
display label such as "Mato Grosso, MODIS, 2007-2013". Stores we did not encode (official ESD tiles)
are named after their tile id.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.gis.geos import GEOSGeometry

from monitoring.models import AOI, EsdTile

# tile id -> place and sensor of the demo stores encoded from ../shared/data (ml.esd.rasters.DEMO_SOURCES)
PATCH_NAMES: dict[str, str] = {
    "MT-DTWSAT": "Mato Grosso, MODIS",
    "MT-SINOP": "Sinop (Mato Grosso), MODIS NDVI",
    "CO-P035R032": "Colorado, Landsat",
    "CO-P035R032-STACK": "Colorado (5 x 5 px), Landsat",
    "SI-EOLEARN": "Slovenia, Sentinel-2 NDVI",
}


def year_span(years: list[int]) -> str:
    """Years as short runs: [2007, ..., 2013] -> "2007-2013"; [2000, 2002, 2003] -> "2000, 2002-2003"."""
    runs: list[list[int]] = []
    for y in sorted(set(years)):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def patch_name(tile_id: str, source: str) -> str:
    """The place name of a tile id, or "ESD tile <id>" (official tiles) / "tile <id>" (encoded)."""
    if tile_id in PATCH_NAMES:
        return PATCH_NAMES[tile_id]
    return f"ESD tile {tile_id}" if source == EsdTile.Source.OFFICIAL else f"tile {tile_id}"


def esd_coverage_patches() -> list[dict[str, Any]]:
    """One dict per tile id: ``tile_id``, ``name``, ``label`` (name and years), ``years``, ``bounds``
    ``[w, s, e, n]`` and ``geometry`` (GeoJSON of the union of its footprints), ordered by name."""
    by_tile: dict[str, dict[str, Any]] = {}
    for t in EsdTile.objects.order_by("tile_id", "year").only("tile_id", "year", "footprint", "source"):
        p = by_tile.setdefault(
            t.tile_id, {"tile_id": t.tile_id, "source": t.source, "years": [], "geoms": []}
        )
        p["years"].append(t.year)
        p["geoms"].append(t.footprint)
    patches = []
    for tile_id, p in by_tile.items():
        union: GEOSGeometry = p["geoms"][0]
        for g in p["geoms"][1:]:
            if not g.equals(union):
                union = union.union(g)
        name = patch_name(tile_id, p["source"])
        years = sorted(set(p["years"]))
        patches.append(
            {
                "tile_id": tile_id,
                "name": name,
                "label": f"{name}, {year_span(years)}",
                "years": years,
                "bounds": list(union.extent),
                "geometry": json.loads(union.geojson),
            }
        )
    return sorted(patches, key=lambda p: p["name"])


def aoi_coverage_years(aoi: AOI) -> list[int]:
    """Years with at least one catalog tile that intersects the AOI, sorted."""
    rows = EsdTile.objects.filter(footprint__intersects=aoi.geometry).values_list("year", flat=True)
    return sorted(set(rows))
