"""GeoJSON uploads: parsed with ``json`` so each feature is checked on its own (row = feature index + 1)."""

from __future__ import annotations

import json
from typing import Any

import shapely
from pyproj import CRS
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from monitoring.parsers.table import SourceTable, check_count, decode_text, parse_crs, short_error
from monitoring.parsers.types import UploadError, UploadLimits


def read_geojson(name: str, content: bytes, limits: UploadLimits) -> SourceTable:
    """Features of a FeatureCollection, a Feature or a bare geometry; EPSG:4326 unless a "crs" member says otherwise."""
    text = decode_text(name, content)
    try:
        doc = json.loads(text)
    except RecursionError:
        raise UploadError(f"{name} is not usable GeoJSON: its arrays are nested too deeply.") from None
    except json.JSONDecodeError as exc:
        raise UploadError(
            f"{name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); the file "
            "may be truncated or not GeoJSON. Export it again as GeoJSON."
        ) from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise UploadError(f"{name}: the FeatureCollection has no 'features' list.")
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    elif isinstance(doc, dict) and ("coordinates" in doc or doc.get("type") == "GeometryCollection"):
        features = [{"type": "Feature", "geometry": doc, "properties": {}}]
    else:
        raise UploadError(
            f'{name} is JSON but not GeoJSON: expected an object with "type": "FeatureCollection".'
        )
    check_count(name, len(features), limits)
    crs = CRS.from_epsg(4326)
    crs_member = doc.get("crs") if isinstance(doc, dict) else None
    if crs_member is not None:
        props = crs_member.get("properties") if isinstance(crs_member, dict) else None
        crs_name = props.get("name") if isinstance(props, dict) else None
        if not isinstance(crs_name, str):
            raise UploadError(
                f"unknown CRS in {name}: the 'crs' member has no name; remove it (GeoJSON is "
                "EPSG:4326 by default) or give a name such as 'EPSG:32721'."
            )
        crs = parse_crs(crs_name, name)
    columns: dict[str, None] = {}
    records: list[dict[str, Any]] = []
    geometries: list[BaseGeometry | None] = []
    errors: dict[int, str] = {}
    for i, feat in enumerate(features):
        props = feat.get("properties") if isinstance(feat, dict) else None
        props = props if isinstance(props, dict) else {}
        for key in props:
            columns.setdefault(str(key), None)
        records.append({str(k): v for k, v in props.items()})
        geom_json = feat.get("geometry") if isinstance(feat, dict) else None
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            geometries.append(None)
            errors[i] = "not a GeoJSON Feature"
        elif geom_json is None:
            geometries.append(None)
            errors[i] = "no geometry (null)"
        else:
            try:
                geometries.append(shapely.force_2d(shape(geom_json)))
            except Exception as exc:  # shapely raises many types for malformed coordinates
                geometries.append(None)
                errors[i] = f"geometry could not be read ({short_error(exc)})"
    return SourceTable(
        format="geojson",
        crs=crs,
        columns=list(columns),
        records=records,
        geometries=geometries,
        geometry_errors=errors,
        rows=list(range(1, len(features) + 1)),
    )
