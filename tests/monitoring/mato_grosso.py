"""The real Mato Grosso labels (dtwSat ``samples_MT.shp``): static labels of one crop year and the truth."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd


def loc_key(x: float, y: float) -> str:
    """One location id for a lon/lat, the same for the shapefile and for stored labels."""
    return f"{x:.5f},{y:.5f}"


def mt_points(shared_data: Path) -> gpd.GeoDataFrame:
    """All 603 labelled points with ``loc`` (a location id), ``year`` (crop year end: Sep 2011-Aug 2012 -> 2012)."""
    frame = gpd.read_file(
        shared_data / "rasters" / "modis_matogrosso_dtwsat" / "lucc_MT_2007_2013" / "samples_MT.shp"
    )
    frame["loc"] = [loc_key(g.x, g.y) for g in frame.geometry]
    frame["year"] = frame["to"].astype(str).str[:4].astype(int)
    return frame


def static_labels_csv(shared_data: Path, crop_year_end: int = 2012) -> bytes:
    """CSV of the labels of one crop year (``from`` date as the reference date), as a user would upload it."""
    frame = mt_points(shared_data)
    rows = frame[frame["year"] == crop_year_end]
    lines = ["lon,lat,class,date"] + [
        f"{g.x:.7f},{g.y:.7f},{c},{d}"
        for g, c, d in zip(rows.geometry, rows["group"], rows["from"].astype(str), strict=True)
    ]
    return "\n".join(lines).encode()
