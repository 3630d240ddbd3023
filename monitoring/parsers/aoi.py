"""Parse and validate an area of interest (AOI), uploaded as a file or drawn in the browser."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from monitoring.parsers.geometry import (
    as_multipolygon,
    check_polygon,
    crs_label,
    geodesic_area_km2,
    geodesic_distance_km,
    out_of_range,
    polygonal_part,
    to_wgs84,
)
from monitoring.parsers.readers import read_upload
from monitoring.parsers.types import (
    AoiUploadReport,
    CoveragePatch,
    UploadError,
    UploadLimits,
    ValidatedAoi,
)

NAME_COLUMNS = ("name", "title", "label", "id")


def parse_aoi(
    filename: str,
    content: bytes,
    limits: UploadLimits,
    coverage: BaseGeometry | None = None,
    *,
    layer: str | None = None,
    patches: Sequence[CoveragePatch] = (),
) -> AoiUploadReport:
    """Read an AOI file: all its polygons merged into one MultiPolygon in EPSG:4326.

    Every feature must be a polygon (points and lines refuse the file). ``coverage`` is the ESD
    store's footprint in EPSG:4326 (None: not checked). Raises ``UploadError`` with a message the
    user can act on.
    """
    table = read_upload(filename, content, limits, layer=layer)
    name = Path(filename).name
    geometries = to_wgs84(table.geometries, table.crs)
    polygons: list[BaseGeometry] = []
    problems: list[str] = []
    for i, (row, geom) in enumerate(zip(table.rows, geometries, strict=True)):
        if geom is None:
            problems.append(f"row {row}: {table.geometry_errors.get(i, 'no geometry')}")
        elif geom.is_empty:
            problems.append(f"row {row}: empty geometry")
        elif (
            polygonal_part(geom) is None or isinstance(geom, GeometryCollection) and not _only_polygons(geom)
        ):
            problems.append(f"row {row}: {geom.geom_type}")
        else:
            polygons.append(geom)
    if problems:
        raise UploadError(
            f"{name}: an AOI must contain only polygons; these features are not usable: "
            + "; ".join(problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
            + ". Remove them or upload them as labels."
        )
    merged = polygons[0] if len(polygons) == 1 else GeometryCollection(polygons)
    try:
        validated = validate_aoi_geometry(merged, limits, coverage, patches)
    except UploadError as exc:
        raise UploadError(f"{name}: {exc.message}") from None
    warnings = list(validated.warnings)
    source_crs = crs_label(table.crs)
    if source_crs != "EPSG:4326":
        warnings.insert(0, f"reprojected from {source_crs} to EPSG:4326")
    if len(polygons) > 1:
        warnings.append(f"{len(polygons)} features merged into one AOI")
    return AoiUploadReport(
        geometry=validated.geometry,
        area_km2=validated.area_km2,
        name=_aoi_name(table.columns, table.records, name),
        warnings=warnings,
        source_crs=source_crs,
        format=table.format,
    )


def _only_polygons(geom: GeometryCollection) -> bool:
    return all(isinstance(g, Polygon | MultiPolygon) for g in geom.geoms)


def _aoi_name(columns: list[str], records: list[dict[str, Any]], filename: str) -> str:
    by_lower = {c.lower(): c for c in reversed(columns)}
    for candidate in NAME_COLUMNS:
        col = by_lower.get(candidate)
        value = records[0].get(col) if col is not None and records else None
        if value is not None and str(value).strip():
            return " ".join(str(value).split())[:200]
    return Path(filename).stem or "AOI"


def _shape_of(doc: dict[str, Any]) -> BaseGeometry:
    """A GeoJSON geometry, Feature or FeatureCollection (its geometries together) as shapely."""
    if doc.get("type") == "Feature":
        return shape(doc["geometry"])
    if doc.get("type") == "FeatureCollection":
        return GeometryCollection([shape(f["geometry"]) for f in doc["features"]])
    return shape(doc)


def validate_aoi_geometry(
    geom: BaseGeometry | dict[str, Any] | str,
    limits: UploadLimits,
    coverage: BaseGeometry | None = None,
    patches: Sequence[CoveragePatch] = (),
) -> ValidatedAoi:
    """Check an AOI in EPSG:4326 (a shapely geometry, or GeoJSON as dict or text: geometry, Feature,
    FeatureCollection).

    Returns the valid MultiPolygon, its geodesic area (km²) and warnings (repairs, partial
    coverage). Raises ``UploadError`` when it is not polygonal, off the globe, degenerate, larger
    than ``limits.max_aoi_km2`` or entirely outside ``coverage``; that message names the covered
    ``patches`` nearest to the AOI (the store's tiles, with their years).
    """
    if isinstance(geom, str | dict):
        try:
            geom = _shape_of(json.loads(geom) if isinstance(geom, str) else geom)
        except Exception as exc:  # malformed GeoJSON raises several types
            raise UploadError(
                f"the AOI is not a valid GeoJSON geometry ({' '.join(str(exc).split())[:100]})."
            ) from None
    geom = shapely.force_2d(geom)
    if geom.is_empty:
        raise UploadError("the AOI is empty; draw or upload a polygon.")
    polygonal = polygonal_part(geom)
    if polygonal is None:
        raise UploadError(f"the AOI is a {geom.geom_type}; an AOI must be a polygon or multipolygon.")
    bad_range = out_of_range(polygonal)
    if bad_range:
        raise UploadError(f"the AOI has {bad_range}.")
    warnings: list[str] = []
    parts = list(polygonal.geoms) if isinstance(polygonal, MultiPolygon) else [polygonal]
    fixed: list[Polygon | MultiPolygon] = []
    for part in parts:
        check = check_polygon(part)
        if check.geometry is not None:
            fixed.append(check.geometry)
            if check.repaired:
                warnings.append(f"invalid AOI polygon repaired ({check.reason}): {check.repair}")
    if not fixed:
        raise UploadError(
            "the AOI polygon is degenerate (zero area: its points are collinear or repeated); draw it again."
        )
    if len(fixed) < len(parts):
        warnings.append(f"{len(parts) - len(fixed)} zero-area AOI part(s) dropped")
    union = polygonal_part(shapely.union_all(fixed)) if len(fixed) > 1 else fixed[0]
    if union is None:
        raise UploadError("the AOI polygon is degenerate (zero area); draw it again.")
    result = as_multipolygon(union)
    area = geodesic_area_km2(result)
    if area > limits.max_aoi_km2:
        raise UploadError(
            f"the AOI covers {area:,.0f} km², more than the limit of {limits.max_aoi_km2:,.0f} km²; "
            "draw or upload a smaller area, or split it into several AOIs."
        )
    if coverage is not None:
        inside = result.intersection(coverage)
        if inside.is_empty or geodesic_area_km2(polygonal_part(inside) or Polygon()) == 0:
            raise UploadError(
                "the AOI does not overlap the ESD store's coverage (no embeddings there). "
                + nearest_patches_text(result, patches)
            )
        share = 1 - geodesic_area_km2(polygonal_part(inside) or Polygon()) / area if area > 0 else 0.0
        if share > 0.001:
            warnings.append(
                f"{_percent(share)} of the AOI lies outside the ESD store's coverage; "
                "those pixels will have no data."
            )
    return ValidatedAoi(result, area, warnings)


NEAREST_PATCHES = 5  # covered patches named in the "no coverage" message


def nearest_patches_text(aoi: BaseGeometry, patches: Sequence[CoveragePatch]) -> str:
    """A sentence naming the covered patches nearest to ``aoi``: name, years, bounds, distance."""
    if not patches:
        return "Index an ESD store that covers it (manage.py esd_index)."
    centre = aoi.centroid
    ranked = sorted(patches, key=lambda p: geodesic_distance_km(centre, p.footprint))
    items = []
    for patch in ranked[:NEAREST_PATCHES]:
        x0, y0, x1, y1 = patch.footprint.bounds
        items.append(
            f"{patch.name} ({_years_text(patch.years)}; lon {x0:.3f} to {x1:.3f}, lat {y0:.3f} to {y1:.3f}; "
            f"{geodesic_distance_km(centre, patch.footprint):,.0f} km away)"
        )
    more = f" and {len(patches) - NEAREST_PATCHES} more" if len(patches) > NEAREST_PATCHES else ""
    return f"Covered areas nearest to it: {'; '.join(items)}{more}. Move the AOI onto one of them."


def _years_text(years: Sequence[int]) -> str:
    ys = sorted(set(years))
    if not ys:
        return "no years"
    if ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}-{ys[-1]}" if len(ys) > 1 else str(ys[0])
    return ", ".join(map(str, ys))


def _percent(share: float) -> str:
    """A share as a percentage that never reads 0% (or 100%) for a share that is not."""
    text = f"{share:.0%}"
    if text in {"0%", "100%"}:
        text = f"{share:.1%}"
    if text in {"0.0%", "100.0%"}:
        text = f"{share:.2%}"
    return text
