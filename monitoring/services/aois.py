"""Writes of AOIs: create from a drawn geometry or an uploaded file, rename/reshape, delete."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import transaction
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from monitoring.errors import ApplicationError
from monitoring.models import AOI
from monitoring.parsers import UploadError, parse_aoi, validate_aoi_geometry
from monitoring.selectors.store import coverage_geometry, coverage_patches
from monitoring.services.uploads import upload_limits


def _geos(geom: BaseGeometry) -> MultiPolygon:
    return cast(MultiPolygon, GEOSGeometry(memoryview(geom.wkb), srid=4326))  # the checked AOI is one


def _shapely_from_geojson(geometry: dict[str, Any] | BaseGeometry) -> BaseGeometry:
    if isinstance(geometry, BaseGeometry):
        return geometry
    try:
        return shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ApplicationError(f"geometry is not valid GeoJSON ({exc})") from exc


@transaction.atomic
def aoi_create(*, owner: User, name: str, geometry: dict[str, Any] | BaseGeometry) -> tuple[AOI, list[str]]:
    """Store an AOI drawn in the browser (GeoJSON geometry, EPSG:4326); returns it and warnings."""
    try:
        checked = validate_aoi_geometry(
            _shapely_from_geojson(geometry), upload_limits(), coverage_geometry(), coverage_patches()
        )
    except UploadError as exc:
        raise ApplicationError(exc.message) from exc
    aoi = AOI.objects.create(
        owner=owner, name=name.strip() or "AOI", geometry=_geos(checked.geometry), area_km2=checked.area_km2
    )
    return aoi, list(checked.warnings)


@transaction.atomic
def aoi_import(*, owner: User, filename: str, content: bytes, name: str = "") -> tuple[AOI, list[str]]:
    """Store an AOI from an uploaded file (GeoJSON, zipped Shapefile, GeoPackage, KML)."""
    try:
        report = parse_aoi(
            filename, content, upload_limits(), coverage_geometry(), patches=coverage_patches()
        )
    except UploadError as exc:
        raise ApplicationError(exc.message) from exc
    aoi = AOI.objects.create(
        owner=owner,
        name=(name.strip() or report.name)[:200],
        geometry=_geos(report.geometry),
        area_km2=report.area_km2,
        source_filename=filename[:255],
    )
    return aoi, list(report.warnings)


@transaction.atomic
def aoi_update(
    *, aoi: AOI, name: str | None = None, geometry: dict[str, Any] | None = None
) -> tuple[AOI, list[str]]:
    """Rename and/or reshape an AOI (the new shape is validated like a new one)."""
    warnings: list[str] = []
    if geometry is not None:
        try:
            checked = validate_aoi_geometry(
                _shapely_from_geojson(geometry), upload_limits(), coverage_geometry(), coverage_patches()
            )
        except UploadError as exc:
            raise ApplicationError(exc.message) from exc
        aoi.geometry = _geos(checked.geometry)
        aoi.area_km2 = checked.area_km2
        warnings = list(checked.warnings)
    if name is not None:
        if not name.strip():
            raise ApplicationError("name must not be empty")
        aoi.name = name.strip()[:200]
    aoi.save()
    return aoi, warnings


@transaction.atomic
def aoi_delete(*, aoi: AOI) -> None:
    """Delete an AOI and, with it, its analyses and their files."""
    from monitoring.services.analyses import analysis_delete

    for analysis in aoi.analyses.all():
        analysis_delete(analysis=analysis)
    aoi.delete()
