"""The table every reader returns, and helpers the readers share (sizes, CRS, columns, text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from monitoring.parsers.types import UploadError, UploadLimits

SUPPORTED = "GeoJSON (.geojson), zipped Shapefile (.zip), GeoPackage (.gpkg), KML (.kml, .kmz) or CSV (.csv)"


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


def human_size(n: int) -> str:
    """A size for people: '812 bytes', '38.8 kB', '20.0 MB' (binary units)."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} kB"
    return f"{n / 1024 / 1024:,.1f} MB"


def short_error(exc: BaseException) -> str:
    """An exception's text on one line, at most 120 characters."""
    return " ".join(str(exc).split())[:120] or type(exc).__name__


def check_count(name: str, count: int, limits: UploadLimits) -> None:
    """Refuse a file with more features than ``limits.max_features``."""
    if count > limits.max_features:
        raise UploadError(
            f"{name} has {count:,} features, more than the limit of {limits.max_features:,}; "
            "split it into several uploads."
        )


def decode_text(name: str, content: bytes) -> str:
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


def find_column(columns: list[str], wanted: str | None, defaults: tuple[str, ...]) -> str | None:
    """The file's spelling of ``wanted`` (any case), or of the first default present; None if absent."""
    by_lower = {c.strip().lower(): c for c in reversed(columns)}
    if wanted is not None:
        return by_lower.get(wanted.strip().lower())
    for candidate in defaults:
        if candidate in by_lower:
            return by_lower[candidate]
    return None
