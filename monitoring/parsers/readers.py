"""Read an uploaded file (GeoJSON, zipped Shapefile, GeoPackage, KML, CSV) into a ``SourceTable``.

The format comes from the extension and is checked against the content. Every whole-file problem
(empty, damaged, wrong type, unsafe or oversized zip, no or unknown CRS, too many features) raises
``UploadError``; a geometry that cannot be read is kept as ``None`` with its reason, so the caller can
reject that row alone.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio.raw import read as ogr_read
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from monitoring.parsers.types import (
    DEFAULT_LAT_COLUMNS,
    DEFAULT_LON_COLUMNS,
    DEFAULT_WKT_COLUMNS,
    UploadError,
    UploadLimits,
)

FORMATS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".zip": "shapefile",
    ".gpkg": "gpkg",
    ".kml": "kml",
    ".csv": "csv",
    ".txt": "csv",
}
SUPPORTED = "GeoJSON (.geojson), zipped Shapefile (.zip), GeoPackage (.gpkg), KML (.kml) or CSV (.csv)"
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj")
_OGR_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, RuntimeError, OSError)


@dataclass
class SourceTable:
    """Features of one upload in the file's own CRS, one entry per row in file order."""

    format: str  # "geojson" | "shapefile" | "gpkg" | "kml" | "csv"
    crs: CRS  # the file's CRS (EPSG:4326 for KML, GeoJSON without "crs", CSV by default)
    columns: list[str]  # attribute columns as named in the file
    records: list[dict[str, Any]]  # attributes of each row
    geometries: list[BaseGeometry | None]  # None where the geometry is missing or unreadable
    geometry_errors: dict[int, str]  # index -> why geometries[index] is None
    rows: list[int]  # 1-based row number the user sees for each entry
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CsvColumns:
    """CSV-only options: coordinate columns and CRS (None = defaults)."""

    lon: str | None = None
    lat: str | None = None
    wkt: str | None = None
    crs: str | None = None


def read_upload(
    filename: str,
    content: bytes,
    limits: UploadLimits,
    *,
    csv_columns: CsvColumns | None = None,
    layer: str | None = None,
) -> SourceTable:
    """Check and read one uploaded file; raise ``UploadError`` for any whole-file problem."""
    name = Path(filename).name or "upload"
    suffix = Path(name).suffix.lower()
    if len(content) == 0:
        raise UploadError(f"{name} is empty (0 bytes); upload a file that contains features.")
    if len(content) > limits.max_bytes:
        raise UploadError(
            f"{name} is {_mb(len(content))}, larger than the upload limit of {_mb(limits.max_bytes)}; "
            "split it into smaller files or simplify the geometries."
        )
    fmt = FORMATS.get(suffix)
    if fmt is None:
        hint = _looks_like(content)
        if suffix == ".shp":
            raise UploadError(
                f"{name}: a Shapefile is several files; zip the .shp, .shx, .dbf and .prj together "
                "and upload the .zip."
            )
        msg = f"{name}: unsupported file type '{suffix or '(none)'}'; upload {SUPPORTED}."
        if hint:
            msg += f" The content looks like {hint}: rename the file to match."
        raise UploadError(msg)
    _check_content_matches(name, fmt, content)
    if fmt == "geojson":
        table = _read_geojson(name, content, limits)
    elif fmt == "csv":
        table = _read_csv(name, content, limits, csv_columns or CsvColumns())
    elif fmt == "shapefile":
        table = _read_zipped_shapefile(name, content, limits)
    elif fmt == "gpkg":
        table = _read_ogr(name, content, limits, "gpkg", layer=layer)
    else:
        table = _read_ogr(name, content, limits, "kml", layer=None)
    if not table.rows:
        raise UploadError(f"{name} contains no features; add at least one feature (row) and upload again.")
    return table


# ---------------------------------------------------------------- sniffing and text


def _mb(n: int) -> str:
    """A size for people: '812 bytes', '38.8 kB', '20.0 MB' (binary units)."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} kB"
    return f"{n / 1024 / 1024:,.1f} MB"


def _looks_like(content: bytes) -> str | None:
    """Name the format the bytes look like, or None."""
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if content.startswith(b"PK\x03\x04") or content.startswith(b"PK\x05\x06"):
        return "a ZIP archive (.zip)"
    if content.startswith(b"SQLite format 3\x00"):
        return "a GeoPackage (.gpkg)"
    if head.startswith(b"{") and b'"type"' in head:
        return "GeoJSON (.geojson)"
    if b"<kml" in head:
        return "KML (.kml)"
    return None


def _check_content_matches(name: str, fmt: str, content: bytes) -> None:
    hint = _looks_like(content)
    if fmt == "shapefile":
        if not (content.startswith(b"PK\x03\x04") or content.startswith(b"PK\x05\x06")):
            raise UploadError(
                f"{name} is not a ZIP archive"
                + (f" (it looks like {hint})" if hint else "")
                + "; upload the Shapefile's .shp, .shx, .dbf and .prj zipped together."
            )
    elif fmt == "gpkg":
        if not content.startswith(b"SQLite format 3\x00"):
            raise UploadError(
                f"{name} is not a GeoPackage (no SQLite header)"
                + (
                    f"; it looks like {hint}: rename it to match"
                    if hint
                    else "; export it again as GeoPackage"
                )
                + "."
            )
    elif hint in ("a ZIP archive (.zip)", "a GeoPackage (.gpkg)"):
        raise UploadError(f"{name} is not {fmt.upper()} text: it looks like {hint}; rename it to match.")
    elif fmt == "kml" and b"<kml" not in content[:4096]:
        raise UploadError(
            f"{name} is not KML (no <kml> element at the start)"
            + (f"; it looks like {hint}: rename it to match." if hint else ".")
        )


def _decode_text(name: str, content: bytes) -> str:
    """UTF-8 text (a BOM is dropped); other encodings are refused rather than guessed."""
    if b"\x00" in content[:8192]:
        raise UploadError(f"{name} is a binary file, not text; upload {SUPPORTED}.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise UploadError(
            f"{name} is not UTF-8 text (byte 0x{content[exc.start]:02X} on line {line}); save it with "
            "UTF-8 encoding (in Excel: 'CSV UTF-8'; in QGIS: encoding UTF-8) and upload again."
        ) from None


def parse_crs(text: str, where: str) -> CRS:
    """A CRS with a definition that links it to the Earth, or ``UploadError('unknown CRS ...')``."""
    try:
        crs = CRS.from_user_input(text)
    except CRSError:
        short = " ".join(str(text).split())[:80]
        raise UploadError(
            f"unknown CRS in {where}: '{short}' is not a coordinate reference system PROJ knows; "
            "export the data in EPSG:4326 or a CRS with an EPSG code."
        ) from None
    if not (crs.is_geographic or crs.is_projected):
        raise UploadError(
            f"unknown CRS in {where}: '{crs.name}' is not tied to the Earth (local or engineering CRS); "
            "export the data in EPSG:4326 or a CRS with an EPSG code."
        )
    return crs


# ---------------------------------------------------------------- GeoJSON


def _read_geojson(name: str, content: bytes, limits: UploadLimits) -> SourceTable:
    text = _decode_text(name, content)
    try:
        doc = json.loads(text)
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
    _check_count(name, len(features), limits)
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
                errors[i] = f"geometry could not be read ({_short(exc)})"
    return SourceTable(
        format="geojson",
        crs=crs,
        columns=list(columns),
        records=records,
        geometries=geometries,
        geometry_errors=errors,
        rows=list(range(1, len(features) + 1)),
    )


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:120] or type(exc).__name__


def _check_count(name: str, count: int, limits: UploadLimits) -> None:
    if count > limits.max_features:
        raise UploadError(
            f"{name} has {count:,} features, more than the limit of {limits.max_features:,}; "
            "split it into several uploads."
        )


# ---------------------------------------------------------------- CSV


def find_column(columns: list[str], wanted: str | None, defaults: tuple[str, ...]) -> str | None:
    """The file's spelling of ``wanted`` (any case), or of the first default present; None if absent."""
    by_lower = {c.strip().lower(): c for c in reversed(columns)}
    if wanted is not None:
        return by_lower.get(wanted.strip().lower())
    for candidate in defaults:
        if candidate in by_lower:
            return by_lower[candidate]
    return None


def _read_csv(name: str, content: bytes, limits: UploadLimits, opts: CsvColumns) -> SourceTable:
    text = _decode_text(name, content)
    sample = text[:8192]
    try:
        delimiter = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t").delimiter
    except (csv.Error, IndexError):
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise UploadError(f"{name} has no header row; the first line must name the columns.") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise UploadError(
            f"{name}: the first line is empty; it must name the columns (e.g. lon,lat,class,date)."
        )
    rows: list[int] = []
    records: list[dict[str, Any]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            rows.append(reader.line_num - 1)
            if len(rows) <= limits.max_features:
                records.append(
                    {h: (values[j].strip() if j < len(values) else "") for j, h in enumerate(header)}
                )
    except csv.Error as exc:
        raise UploadError(f"{name} is not readable CSV (line {reader.line_num}: {exc}).") from None
    _check_count(name, len(rows), limits)
    crs = parse_crs(opts.crs, f"the crs option of {name}") if opts.crs else CRS.from_epsg(4326)
    lon_col = find_column(header, opts.lon, DEFAULT_LON_COLUMNS)
    lat_col = find_column(header, opts.lat, DEFAULT_LAT_COLUMNS)
    wkt_col = find_column(header, opts.wkt, DEFAULT_WKT_COLUMNS)
    for option, wanted, found in (
        ("lon_column", opts.lon, lon_col),
        ("lat_column", opts.lat, lat_col),
        ("wkt_column", opts.wkt, wkt_col),
    ):
        if wanted is not None and found is None:
            raise UploadError(
                f"{name}: column '{wanted}' ({option}) not found; the columns are: {', '.join(header)}."
            )
    use_wkt = wkt_col is not None and (opts.wkt is not None or lon_col is None or lat_col is None)
    if not use_wkt and (lon_col is None or lat_col is None):
        raise UploadError(
            f"{name}: no coordinate columns. A CSV needs 'lon' and 'lat' columns (or longitude/latitude, "
            f"x/y) or a 'wkt' column; the columns are: {', '.join(header)}. Rename them or set the "
            "lon_column and lat_column (or wkt_column) options."
        )
    geometries: list[BaseGeometry | None] = []
    errors: dict[int, str] = {}
    for i, rec in enumerate(records):
        try:
            if use_wkt:
                wkt = rec[wkt_col]  # type: ignore[index]
                if not wkt:
                    raise ValueError("the WKT cell is empty")
                geometries.append(shapely.force_2d(shapely.from_wkt(wkt)))
            else:
                x = _number(rec[lon_col], "longitude", delimiter)  # type: ignore[index]
                y = _number(rec[lat_col], "latitude", delimiter)  # type: ignore[index]
                geometries.append(Point(x, y))
        except shapely.errors.GEOSException:
            geometries.append(None)
            errors[i] = f"'{str(rec[wkt_col])[:40]}' is not valid WKT"  # type: ignore[index]
        except ValueError as exc:
            geometries.append(None)
            errors[i] = str(exc)
    return SourceTable(
        format="csv",
        crs=crs,
        columns=header,
        records=records,
        geometries=geometries,
        geometry_errors=errors,
        rows=rows,
    )


def _number(text: str, what: str, delimiter: str) -> float:
    if text == "":
        raise ValueError(f"{what} is empty")
    cleaned = text.replace(",", ".") if delimiter != "," and text.count(",") == 1 else text
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{what} '{text[:30]}' is not a number") from None
    return value


# ---------------------------------------------------------------- zip


def _zip_members(
    name: str, content: bytes, limits: UploadLimits
) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open a zip and check it without extracting: damage, member count, paths, encryption, size."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise UploadError(
            f"{name} is damaged or truncated (not a readable ZIP archive); zip it again."
        ) from None
    for info in infos:
        parts = re.split(r"[\\/]", info.filename)
        if info.filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", info.filename) or ".." in parts:
            raise UploadError(
                f"{name} contains an unsafe path '{info.filename[:80]}' (absolute or with '..'); "
                "zip the files themselves, without parent folders."
            )
    members = [
        i
        for i in infos
        if not i.is_dir()
        and not i.filename.startswith("__MACOSX/")
        and not PurePosixPath(i.filename).name.startswith("._")
        and PurePosixPath(i.filename).name != ".DS_Store"
    ]
    if len(members) > limits.max_zip_members:
        raise UploadError(
            f"{name} holds {len(members)} files, more than the limit of {limits.max_zip_members}; "
            "zip only the Shapefile's .shp, .shx, .dbf, .prj (and .cpg)."
        )
    if any(i.flag_bits & 0x1 for i in members):
        raise UploadError(f"{name} is password-protected; zip the files without a password.")
    total = sum(i.file_size for i in members)
    if total > limits.max_uncompressed_bytes:
        raise UploadError(
            f"{name} would expand to {_mb(total)}, more than the limit of {_mb(limits.max_uncompressed_bytes)} "
            "uncompressed; upload a smaller file."
        )
    return zf, members


def _read_zipped_shapefile(name: str, content: bytes, limits: UploadLimits) -> SourceTable:
    zf, members = _zip_members(name, content, limits)
    shps = [m for m in members if m.filename.lower().endswith(".shp")]
    if not shps:
        found = ", ".join(PurePosixPath(m.filename).name for m in members[:10]) or "nothing"
        raise UploadError(
            f"{name} contains no .shp file (found: {found}); a zipped Shapefile needs the .shp, .shx, "
            ".dbf and .prj files."
        )
    if len(shps) > 1:
        listed = ", ".join(PurePosixPath(m.filename).name for m in shps[:5])
        raise UploadError(f"{name} contains {len(shps)} Shapefiles ({listed}); upload one Shapefile per zip.")
    stem = shps[0].filename[:-4]
    by_ext: dict[str, zipfile.ZipInfo] = {}
    for m in members:
        if m.filename[: len(stem)] == stem and "/" not in m.filename[len(stem) :]:
            by_ext[m.filename[len(stem) :].lower()] = m
    shp_name = PurePosixPath(shps[0].filename).name
    missing = [ext for ext in (".shx", ".dbf") if ext not in by_ext]
    if missing:
        raise UploadError(
            f"{name}: the Shapefile {shp_name} is incomplete, missing "
            + " and ".join(PurePosixPath(stem).name + e for e in missing)
            + "; zip the .shp, .shx, .dbf and .prj files together."
        )
    if ".prj" not in by_ext:
        raise UploadError(
            f"no CRS: {name} has no .prj file for {shp_name}, so its coordinates cannot be located; "
            "add the .prj (export the layer again with its CRS) and upload again."
        )
    with tempfile.TemporaryDirectory(prefix="esd-upload-") as tmp:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            if ext in by_ext:
                _extract(zf, by_ext[ext], Path(tmp) / f"layer{ext}", name)
        prj_text = (Path(tmp) / "layer.prj").read_text(encoding="utf-8", errors="replace").strip()
        if not prj_text:
            raise UploadError(
                f"no CRS: the .prj file in {name} is empty; export the layer again with its CRS."
            )
        crs = parse_crs(prj_text, f"the .prj file of {name}")
        table = _read_ogr_path(name, Path(tmp) / "layer.shp", limits, "shapefile", layer=None, crs=crs)
    return table


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Copy one member, never writing more than its declared size (zipfile checks size and CRC)."""
    written = 0
    try:
        with zf.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > info.file_size:
                    raise UploadError(f"{name} is damaged (a member is larger than declared).")
                dst.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        if isinstance(exc, UploadError):
            raise
        raise UploadError(f"{name} is damaged or truncated ({_short(exc)}); zip it again.") from None


# ---------------------------------------------------------------- GDAL formats


def _read_ogr(name: str, content: bytes, limits: UploadLimits, fmt: str, layer: str | None) -> SourceTable:
    if fmt == "kml":
        text_ok = _kml_encoding_ok(content)
        if not text_ok:
            _decode_text(name, content)
    with tempfile.TemporaryDirectory(prefix="esd-upload-") as tmp:
        path = Path(tmp) / f"upload.{fmt}"
        path.write_bytes(content)
        return _read_ogr_path(name, path, limits, fmt, layer=layer, crs=None)


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


_READERS = {"gpkg": "GeoPackage", "kml": "KML", "shapefile": "Shapefile"}


def _read_ogr_path(
    name: str, path: Path, limits: UploadLimits, fmt: str, layer: str | None, crs: CRS | None
) -> SourceTable:
    kind = _READERS[fmt]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = [(str(n), str(t)) for n, t in pyogrio.list_layers(path)]
    except _OGR_ERRORS as exc:
        raise UploadError(_unreadable(name, kind, exc, path)) from None
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
            raise UploadError(_unreadable(name, kind, exc, path)) from None
        if counted >= 0:
            _check_count(name, counted + len(records), limits)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                meta, _fids, wkb, field_data = ogr_read(
                    path, layer=layer_name, driver=driver, force_2d=True, max_features=limits.max_features + 1
                )
        except _OGR_ERRORS as exc:
            raise UploadError(_unreadable(name, kind, exc, path)) from None
        if len(wkb) + len(records) > limits.max_features:
            _check_count(name, len(wkb) + len(records), limits)
        if table_crs is None and fmt != "kml":
            if meta["crs"] is None:
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
                errors[index] = f"geometry could not be read ({_short(exc)})"
    return SourceTable(
        format=fmt,
        crs=table_crs if table_crs is not None else CRS.from_epsg(4326),
        columns=list(columns),
        records=records,
        geometries=geometries,
        geometry_errors=errors,
        rows=list(range(1, len(records) + 1)),
    )


def _unreadable(name: str, kind: str, exc: BaseException, path: Path) -> str:
    """A message for a file GDAL cannot read, without temp paths or SQL in it."""
    detail = _short(exc).replace(str(path), name).replace(str(path.parent) + "/", "")
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
