"""Value objects of the upload parsers: limits, options, reports and the one error type."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import NamedTuple

from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry

DEFAULT_CLASS_COLUMNS = ("class", "label", "group", "classe", "landcover")
DEFAULT_DATE_COLUMNS = (
    "date",
    "year",
    "ref_date",
    "reference_date",
    "from",
    "start_date",
    "timestamp",
    "begin",
)
DEFAULT_LON_COLUMNS = ("lon", "longitude", "lng", "long", "x")
DEFAULT_LAT_COLUMNS = ("lat", "latitude", "y")
DEFAULT_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")


@dataclass(frozen=True)
class RejectedRow:
    """One row of an upload that was left out, and why."""

    row: int  # 1-based row as the user sees it: CSV data row (line - 1), GeoJSON/GDAL feature index + 1
    reason: str  # a sentence the user can act on ("unknown class 'Soja' (allowed: ...)")


class UploadError(ValueError):
    """The whole upload is refused; ``message`` tells the user what to fix.

    ``rejected`` holds the per-row reasons when the file was refused because no row was usable.
    """

    def __init__(self, message: str, rejected: tuple[RejectedRow, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.rejected = rejected


@dataclass(frozen=True)
class UploadLimits:
    """Limits checked before anything is parsed or stored (the caller takes them from settings)."""

    max_bytes: int = 20 * 1024 * 1024  # size of the uploaded file itself
    max_features: int = 50_000  # features (rows) per file
    max_aoi_km2: float = 10_000.0  # geodesic area of an AOI (WGS84 ellipsoid)
    max_uncompressed_bytes: int = 200 * 1024 * 1024  # sum of member sizes of a zip, checked before extracting
    max_zip_members: int = 50  # files in a zip (folders and macOS metadata not counted)


@dataclass(frozen=True)
class LabelOptions:
    """Column names and CRS chosen at upload; ``None`` picks the first default name found (any case)."""

    class_column: str | None = None  # default: first of DEFAULT_CLASS_COLUMNS
    date_column: str | None = None  # default: first of DEFAULT_DATE_COLUMNS that holds a value
    lon_column: str | None = None  # CSV only; default: first of DEFAULT_LON_COLUMNS
    lat_column: str | None = None  # CSV only; default: first of DEFAULT_LAT_COLUMNS
    wkt_column: str | None = None  # CSV only, used when there are no lon/lat columns; DEFAULT_WKT_COLUMNS
    crs: str | None = None  # CSV only (default EPSG:4326); other formats must carry their own CRS
    layer: str | None = None  # GeoPackage layer; default: the first layer with geometries
    allowed_classes: tuple[str, ...] | None = None  # when given, other classes are rejected per row


@dataclass(frozen=True)
class AcceptedLabel:
    """One label ready to store; geometry in EPSG:4326 (lon, lat), 2D, valid."""

    row: int  # 1-based row in the uploaded file (see RejectedRow.row)
    geometry: BaseGeometry  # shapely Point, Polygon or MultiPolygon; a polygon label covers its pixels
    klass: str  # class name, stripped; spelled as in allowed_classes when those were given
    reference_date: datetime.date  # a plain year means 1 January, "YYYY-MM" the first of the month
    repaired: bool  # True when an invalid polygon was repaired with shapely.make_valid


@dataclass(frozen=True)
class LabelUploadReport:
    """What a label upload yields: accepted labels (at least one), rejected rows, warnings."""

    accepted: list[AcceptedLabel]
    rejected: list[RejectedRow]
    warnings: list[str]  # sentences for the user (repairs, reprojection, numeric class names)
    source_crs: str  # CRS of the file ("EPSG:32721", or the CRS name when it has no EPSG code)
    classes: list[str]  # sorted distinct classes of the accepted labels
    format: str  # "geojson" | "shapefile" | "gpkg" | "kml" | "csv"
    class_column: str = ""  # the column the classes were read from
    date_column: str = ""  # the column the reference dates were read from


@dataclass(frozen=True)
class AoiUploadReport:
    """A validated AOI: one MultiPolygon in EPSG:4326 with its geodesic area."""

    geometry: MultiPolygon  # valid, 2D, lon/lat
    area_km2: float  # geodesic area on the WGS84 ellipsoid
    name: str  # from a "name" column of the first feature, else the file name without extension
    warnings: list[str] = field(default_factory=list)
    source_crs: str = "EPSG:4326"
    format: str = "geojson"


@dataclass(frozen=True)
class CoveragePatch:
    """One covered patch of the ESD store (a store tile id), for messages that point users to data."""

    name: str  # the tile id, e.g. "MT-DTWSAT"
    years: tuple[int, ...]  # years with tiles, sorted
    footprint: BaseGeometry  # union of its tiles' footprints, lon/lat


class ValidatedAoi(NamedTuple):
    """Result of :func:`validate_aoi_geometry` (unpacks as ``geometry, area_km2, warnings``)."""

    geometry: MultiPolygon  # valid, 2D, EPSG:4326
    area_km2: float  # geodesic area on the WGS84 ellipsoid
    warnings: list[str]
