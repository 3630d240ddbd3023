"""Geometry checks shared by labels and AOIs: reprojection, coordinate range, repair, geodesic area."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops
from pyproj import CRS, Geod
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

WGS84 = CRS.from_epsg(4326)
_GEOD = Geod(ellps="WGS84")


def crs_label(crs: CRS) -> str:
    """'EPSG:32721' when the CRS has an EPSG code, else its name."""
    epsg = crs.to_epsg(min_confidence=90)
    return f"EPSG:{epsg}" if epsg is not None else crs.name


def to_wgs84(geometries: list[BaseGeometry | None], crs: CRS) -> list[BaseGeometry | None]:
    """Reproject to EPSG:4326 (lon, lat order); points outside the CRS's domain become inf."""
    if crs.equals(WGS84, ignore_axis_order=True):
        return list(geometries)
    series = gpd.GeoSeries(geometries, crs=crs).to_crs(WGS84)
    return list(series.array)


def out_of_range(geom: BaseGeometry) -> str | None:
    """Why a lon/lat geometry is off the globe (|lon| > 180, |lat| > 90, not finite), or None."""
    minx, miny, maxx, maxy = geom.bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        return "coordinates cannot be converted to longitude/latitude (outside the CRS's area)"
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        x, y = (minx, miny) if (minx < -180 or miny < -90) else (maxx, maxy)
        hint = (
            "; longitude and latitude look swapped"
            if -90 <= x <= 90 and -180 <= y <= 180
            else "; the coordinates look projected: set the file's CRS"
        )
        return f"coordinates out of range (lon {x:.6g}, lat {y:.6g}; need |lon| <= 180, |lat| <= 90){hint}"
    return None


@dataclass(frozen=True)
class PolygonCheck:
    """A polygonal geometry after validation: repaired or refused."""

    geometry: Polygon | MultiPolygon | None  # valid polygonal geometry, None when refused
    repaired: bool  # True when make_valid changed it
    reason: str  # why it was repaired (shapely's explanation) or refused
    # For a repair, what it did: the parts it made and the area before (as drawn) and after, e.g.
    # "split into 2 polygons; area as drawn 0 km², after repair 3.12 km²" ("" otherwise)
    repair: str = ""


def check_polygon(geom: Polygon | MultiPolygon) -> PolygonCheck:
    """Repair an invalid polygon with ``shapely.make_valid`` when the result still has area.

    Self-intersecting rings become valid (multi)polygons (``repaired=True``); a polygon whose
    repair has no area (collinear or repeated points) is refused.
    """
    if geom.is_empty:
        return PolygonCheck(None, False, "empty polygon")
    if geom.is_valid:
        if geom.area == 0:
            return PolygonCheck(None, False, "degenerate polygon (zero area)")
        return PolygonCheck(geom, False, "")
    why = shapely.is_valid_reason(geom)
    fixed = polygonal_part(shapely.make_valid(geom))
    if fixed is None or fixed.area == 0:
        return PolygonCheck(None, False, f"degenerate polygon (zero area: {why})")
    return PolygonCheck(fixed, True, why, repair_summary(geom, fixed))


def repair_summary(before: Polygon | MultiPolygon, after: Polygon | MultiPolygon) -> str:
    """What a repair did, in words: the polygons it made and the geodesic area before and after.

    The area "as drawn" is the signed area of the rings as given: the loops of an outline that
    crosses itself count with opposite signs (a symmetric bow tie is 0 km² as drawn).
    """
    drawn = abs(_GEOD.geometry_area_perimeter(before)[0]) / 1e6
    parts = len(after.geoms) if isinstance(after, MultiPolygon) else 1
    shape_text = f"split into {parts} polygons" if parts > 1 else "made into one valid polygon"
    return f"{shape_text}; area as drawn {_km2(drawn)}, after repair {_km2(geodesic_area_km2(after))}"


def _km2(value: float) -> str:
    return f"{value:.3g} km²" if value < 100 else f"{value:,.0f} km²"


def polygonal_part(geom: BaseGeometry) -> Polygon | MultiPolygon | None:
    """The polygons of a geometry (dropping lines and points a repair may leave), or None."""
    if isinstance(geom, Polygon | MultiPolygon):
        return None if geom.is_empty else geom
    if isinstance(geom, GeometryCollection):
        polys = [g for g in geom.geoms if isinstance(g, Polygon | MultiPolygon) and not g.is_empty]
        if not polys:
            return None
        merged = shapely.union_all(polys)
        return merged if isinstance(merged, Polygon | MultiPolygon) else None
    return None


def as_multipolygon(geom: Polygon | MultiPolygon) -> MultiPolygon:
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def geodesic_area_km2(geom: BaseGeometry) -> float:
    """Area of a lon/lat geometry on the WGS84 ellipsoid, km²."""
    if geom.is_empty:
        return 0.0
    area, _ = _GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(area) / 1e6


def geodesic_distance_km(point: BaseGeometry, geom: BaseGeometry) -> float:
    """Distance on the WGS84 ellipsoid from a lon/lat point to the nearest point of ``geom`` (0 inside)."""
    if geom.covers(point):
        return 0.0
    nearest = shapely.ops.nearest_points(point, geom)[1]
    _, _, metres = _GEOD.inv(point.x, point.y, nearest.x, nearest.y)
    return float(metres) / 1000
