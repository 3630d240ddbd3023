"""GeoPackage, KML and Shapefile reading through GDAL (pyogrio); row = feature index + 1."""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio.raw import read as ogr_read
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from monitoring.parsers.table import SourceTable, check_count, decode_text, parse_crs, short_error
from monitoring.parsers.types import UploadError, UploadLimits

_OGR_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, RuntimeError, OSError)

_READERS = {"gpkg": "GeoPackage", "kml": "KML", "shapefile": "Shapefile"}


def read_ogr(name: str, content: bytes, limits: UploadLimits, fmt: str, layer: str | None) -> SourceTable:
    """Read a GeoPackage (``fmt="gpkg"``) or KML (``fmt="kml"``) upload through a temporary file."""
    if fmt == "kml":
        text_ok = _kml_encoding_ok(content)
        if not text_ok:
            decode_text(name, content)
    with tempfile.TemporaryDirectory(prefix="esd-upload-") as tmp:
        path = Path(tmp) / f"upload.{fmt}"
        path.write_bytes(content)
        return read_ogr_path(name, path, limits, fmt, layer=layer, crs=None)


def _kml_encoding_ok(content: bytes) -> bool:
    """True when the XML declares a non-UTF-8 encoding (GDAL decodes it) or the bytes are UTF-8."""
    decl = re.match(rb"^(\xef\xbb\xbf)?\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9_.-]+)", content)
    if decl and decl.group(2).lower() not in (b"utf-8", b"utf8"):
        return True
    try:
        content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def read_ogr_path(
    name: str, path: Path, limits: UploadLimits, fmt: str, layer: str | None, crs: CRS | None
) -> SourceTable:
    """Read features with GDAL: a GeoPackage's chosen layer, every KML layer, a Shapefile.

    ``crs`` overrides the layer's CRS (the Shapefile's parsed ``.prj``); KML is always EPSG:4326.
    Geometries are 2D; a geometry GEOS cannot read is kept as None with its reason.
    """
    kind = _READERS[fmt]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = [(str(n), str(t)) for n, t in pyogrio.list_layers(path)]
    except _OGR_ERRORS as exc:
        raise UploadError(unreadable_message(name, kind, exc, path)) from None
    if fmt == "gpkg":
        spatial = [n for n, t in layers if t not in ("None", "")]
        if layer is not None:
            if layer not in [n for n, _ in layers]:
                raise UploadError(
                    f"{name} has no layer '{layer}'; its layers are: {', '.join(n for n, _ in layers)}."
                )
            chosen = [layer]
        elif spatial:
            chosen = [spatial[0]]
        else:
            raise UploadError(f"{name} has no layer with geometries; export a point or polygon layer.")
    elif fmt == "kml":
        chosen = [n for n, _ in layers]
    else:
        chosen = [layers[0][0]] if layers else []
    columns: dict[str, None] = {}
    records: list[dict[str, Any]] = []
    geometries: list[BaseGeometry | None] = []
    errors: dict[int, str] = {}
    table_crs = crs
    driver = "LIBKML" if fmt == "kml" else None
    for layer_name in chosen:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                counted = int(pyogrio.read_info(path, layer=layer_name, driver=driver)["features"])
        except _OGR_ERRORS as exc:
            raise UploadError(unreadable_message(name, kind, exc, path)) from None
        if counted >= 0:
            check_count(name, counted + len(records), limits)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                meta, _fids, wkb, field_data = ogr_read(
                    path, layer=layer_name, driver=driver, force_2d=True, max_features=limits.max_features + 1
                )
        except _OGR_ERRORS as exc:
            raise UploadError(unreadable_message(name, kind, exc, path)) from None
        if len(wkb) + len(records) > limits.max_features:
            check_count(name, len(wkb) + len(records), limits)
        if table_crs is None and fmt != "kml":
            if meta["crs"] is None or _is_undefined_srs(meta["crs"]):
                raise UploadError(
                    f"no CRS: {name} (layer '{layer_name}') has no coordinate reference system; assign "
                    "its CRS (in QGIS: Layer > Set CRS) and export it again."
                )
            table_crs = parse_crs(meta["crs"], name)
        fields = [str(f) for f in meta["fields"]]
        for f in fields:
            columns.setdefault(f, None)
        for i in range(len(wkb)):
            records.append({f: _plain(field_data[j][i]) for j, f in enumerate(fields)})
            blob = wkb[i]
            index = len(geometries)
            if blob is None:
                geometries.append(None)
                errors[index] = "no geometry"
                continue
            try:
                geometries.append(shapely.from_wkb(blob))
            except shapely.errors.GEOSException as exc:
                geometries.append(None)
                errors[index] = f"geometry could not be read ({short_error(exc)})"
    return SourceTable(
        format=fmt,
        crs=table_crs if table_crs is not None else CRS.from_epsg(4326),
        columns=list(columns),
        records=records,
        geometries=geometries,
        geometry_errors=errors,
        rows=list(range(1, len(records) + 1)),
    )


def unreadable_message(name: str, kind: str, exc: BaseException, path: Path) -> str:
    """A message for a file GDAL cannot read, without temp paths or SQL in it."""
    detail = short_error(exc).replace(str(path), name).replace(str(path.parent) + "/", "")
    detail = "" if "sqlite3_" in detail or "SELECT" in detail else f" ({detail})"
    return f"{name} could not be read as {kind}; it may be damaged or truncated{detail}. Export it again."


def _plain(value: Any) -> Any:
    """numpy scalars -> Python values; NaN / NaT -> None."""
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else value.astype("datetime64[ms]").item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _is_undefined_srs(text: str) -> bool:
    """GDAL < 3.7 reports a GeoPackage layer without CRS as an engineering CRS named 'Undefined SRS'."""
    return "Undefined SRS" in str(text) and any(
        k in str(text) for k in ("ENGCRS", "LOCAL_CS", "EngineeringDatum")
    )
