"""Read an uploaded file (GeoJSON, zipped Shapefile, GeoPackage, KML, CSV) into a ``SourceTable``.

The format comes from the extension and is checked against the content. Every whole-file problem
(empty, damaged, wrong type, unsafe or oversized zip, no or unknown CRS, too many features) raises
``UploadError``; a geometry that cannot be read is kept as ``None`` with its reason, so the caller can
reject that row alone.
"""

from __future__ import annotations

from pathlib import Path

from monitoring.parsers.archives import read_kmz, read_zipped_shapefile
from monitoring.parsers.csv_rows import read_csv
from monitoring.parsers.geojson import read_geojson
from monitoring.parsers.ogr import read_ogr
from monitoring.parsers.table import SUPPORTED, CsvColumns, SourceTable, human_size
from monitoring.parsers.types import UploadError, UploadLimits

__all__ = ["CsvColumns", "SourceTable", "read_upload"]

FORMATS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".zip": "shapefile",
    ".gpkg": "gpkg",
    ".kml": "kml",
    ".kmz": "kmz",
    ".csv": "csv",
    ".txt": "csv",
}


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
            f"{name} is {human_size(len(content))}, larger than the upload limit of {human_size(limits.max_bytes)}; "
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
        table = read_geojson(name, content, limits)
    elif fmt == "csv":
        table = read_csv(name, content, limits, csv_columns or CsvColumns())
    elif fmt == "shapefile":
        table = read_zipped_shapefile(name, content, limits)
    elif fmt == "kmz":
        table = read_kmz(name, content, limits)
    elif fmt == "gpkg":
        table = read_ogr(name, content, limits, "gpkg", layer=layer)
    else:
        table = read_ogr(name, content, limits, "kml", layer=None)
    if not table.rows:
        raise UploadError(f"{name} contains no features; add at least one feature (row) and upload again.")
    return table


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
    if fmt in ("shapefile", "kmz"):
        if not (content.startswith(b"PK\x03\x04") or content.startswith(b"PK\x05\x06")):
            raise UploadError(
                f"{name} is not a ZIP archive"
                + (f" (it looks like {hint})" if hint else "")
                + (
                    "; upload the Shapefile's .shp, .shx, .dbf and .prj zipped together."
                    if fmt == "shapefile"
                    else "; a .kmz is a zipped .kml: upload the .kml itself instead."
                )
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
