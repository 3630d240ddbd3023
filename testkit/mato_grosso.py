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


def score_maps(analysis_dir: Path, class_names: list[str], shared_data: Path) -> dict[int, dict[str, float]]:
    """Per crop year: accuracy of that year's land-cover map at the real labelled points of that year.

    Classes the label set does not know (e.g. Soybean-maize, absent from the 2011-12 static labels) can
    never be mapped; they count as errors, and ``n_known`` says how many points had a mappable class.
    """
    import rasterio
    from rasterio.warp import transform

    frame = mt_points(shared_data)
    out: dict[int, dict[str, float]] = {}
    for year, rows in frame.groupby("year"):
        path = analysis_dir / f"landcover_{year}.tif"
        if not path.exists():
            continue
        with rasterio.open(path) as src:
            xs, ys = transform("EPSG:4326", src.crs, list(rows.geometry.x), list(rows.geometry.y))
            values = [int(v[0]) for v in src.sample(zip(xs, ys, strict=True))]
        pred = [class_names[v] if v < len(class_names) else None for v in values]
        ok = [p is not None for p in pred]
        truth = list(rows["group"])
        hits = sum(p == t for p, t, k in zip(pred, truth, ok, strict=True) if k)
        n = sum(ok)
        known = sum(t in class_names for t, k in zip(truth, ok, strict=True) if k)
        out[int(year)] = {"n": n, "n_known": known, "oa": round(hits / n, 4) if n else float("nan")}
    return out
