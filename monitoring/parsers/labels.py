"""Parse and validate an uploaded label file: one class and one reference date per point or polygon."""

from __future__ import annotations

import datetime
import re
from typing import Any

import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from monitoring.parsers.geometry import check_polygon, crs_label, out_of_range, to_wgs84
from monitoring.parsers.readers import read_upload
from monitoring.parsers.table import CsvColumns, SourceTable, find_column
from monitoring.parsers.types import (
    DEFAULT_CLASS_COLUMNS,
    DEFAULT_DATE_COLUMNS,
    AcceptedLabel,
    LabelOptions,
    LabelUploadReport,
    RejectedRow,
    UploadError,
    UploadLimits,
)

MIN_YEAR, MAX_YEAR = 1980, 2100
MAX_CLASS_LENGTH = 100
MAX_ROW_WARNINGS = 20  # repaired rows named one by one in the warnings; the rest are counted
_YEAR = re.compile(r"^(\d{4})(?:\.0+)?$")
_YEAR_MONTH = re.compile(r"^(\d{4})[-/](\d{1,2})$")
_ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ].*)?$")


def parse_labels(
    filename: str,
    content: bytes,
    options: LabelOptions,
    limits: UploadLimits,
    coverage: BaseGeometry | None = None,
) -> LabelUploadReport:
    """Read labels from an upload and validate every row; nothing is stored here.

    ``coverage`` is the ESD store's footprint in EPSG:4326 (None: not checked). Rows with a problem
    are listed in ``rejected`` (1-based rows as the user sees them); the rest come back as
    ``accepted`` labels in EPSG:4326. Raises ``UploadError`` for whole-file problems, including a
    file where no row is usable.
    """
    table = read_upload(
        filename,
        content,
        limits,
        csv_columns=CsvColumns(options.lon_column, options.lat_column, options.wkt_column, options.crs),
        layer=options.layer,
    )
    name = filename.rsplit("/", 1)[-1]
    class_col = _resolve_column(
        table, name, options.class_column, DEFAULT_CLASS_COLUMNS, "class", "class_column"
    )
    date_col = _resolve_column(table, name, options.date_column, DEFAULT_DATE_COLUMNS, "date", "date_column")
    allowed = {_norm(c): c for c in options.allowed_classes} if options.allowed_classes is not None else None
    if coverage is not None:
        shapely.prepare(coverage)

    geometries = to_wgs84(table.geometries, table.crs)
    accepted: list[AcceptedLabel] = []
    rejected: list[RejectedRow] = []
    warnings: list[str] = []
    repairs = 0
    for i, row in enumerate(table.rows):
        reasons: list[str] = []
        geom, repaired, geom_reason = _label_geometry(geometries[i], table.geometry_errors.get(i))
        if geom is None:
            reasons.append(geom_reason)
        elif coverage is not None and not coverage.intersects(geom):
            reasons.append("outside the ESD store's coverage")
        klass, class_reason = _class_of(table.records[i].get(class_col), allowed)
        if class_reason:
            reasons.append(class_reason)
        ref_date, date_reason = parse_reference_date(table.records[i].get(date_col))
        if date_reason:
            reasons.append(date_reason)
        if reasons or geom is None or klass is None or ref_date is None:
            rejected.append(RejectedRow(row=row, reason="; ".join(reasons)))
            continue
        if repaired:
            repairs += 1
            if repairs <= MAX_ROW_WARNINGS:
                warnings.append(f"row {row}: invalid polygon repaired ({geom_reason})")
        accepted.append(
            AcceptedLabel(row=row, geometry=geom, klass=klass, reference_date=ref_date, repaired=repaired)
        )

    if repairs > MAX_ROW_WARNINGS:
        warnings.append(f"... and {repairs - MAX_ROW_WARNINGS} more invalid polygons repaired")
    if not accepted:
        first = "; ".join(f"row {r.row}: {r.reason}" for r in rejected[:5])
        raise UploadError(
            f"{name}: no usable labels, all {len(rejected)} rows were rejected. First problems: {first}.",
            rejected=tuple(rejected),
        )
    classes = sorted({a.klass for a in accepted})
    if all(re.fullmatch(r"-?\d+(\.\d+)?", c) for c in classes):
        warnings.insert(
            0,
            f"the classes are numbers ({', '.join(classes[:5])}); rename them (e.g. Forest, Soybean) so "
            "maps and legends are readable.",
        )
    source_crs = crs_label(table.crs)
    if source_crs != "EPSG:4326":
        warnings.insert(0, f"reprojected from {source_crs} to EPSG:4326")
    if rejected:
        warnings.insert(
            0, f"{len(rejected)} of {len(table.rows)} rows rejected (see the list of rejected rows)"
        )
    return LabelUploadReport(
        accepted=accepted,
        rejected=rejected,
        warnings=warnings,
        source_crs=source_crs,
        classes=classes,
        format=table.format,
        class_column=class_col,
        date_column=date_col,
    )


def _resolve_column(
    table: SourceTable, name: str, wanted: str | None, defaults: tuple[str, ...], what: str, option: str
) -> str:
    """The column holding ``what``; among default names, the first with a value in some row wins."""
    columns = [c for c in table.columns if c.lower() not in ("geometry", "wkt")]
    if wanted is not None:
        found = find_column(table.columns, wanted, ())
        if found is None:
            raise UploadError(
                f"{name}: {what} column '{wanted}' not found; the columns are: {_listing(columns)}. "
                f"Set the {option} option to one of them."
            )
        return found
    by_lower = {c.strip().lower(): c for c in reversed(table.columns)}
    present = [by_lower[c] for c in defaults if c in by_lower]
    for col in present:
        if any(_present(rec.get(col)) for rec in table.records):
            return col
    if present:  # named right but empty everywhere: the rows say so one by one
        return present[0]
    raise UploadError(
        f"{name}: no {what} column. Name one of the columns {' or '.join(repr(d) for d in defaults[:3])}, "
        f"or set the {option} option to the column that holds the {what}; the columns are: {_listing(columns)}."
    )


def _listing(columns: list[str]) -> str:
    return ", ".join(columns[:30]) if columns else "(none)"


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def _label_geometry(
    geom: BaseGeometry | None, read_error: str | None
) -> tuple[Point | Polygon | MultiPolygon | None, bool, str]:
    """(geometry, repaired, reason): a valid 2D point or polygon in lon/lat, or None and why not."""
    if geom is None:
        return None, False, read_error or "no geometry"
    if geom.is_empty:
        return None, False, "empty geometry"
    if isinstance(geom, MultiPoint):
        if len(geom.geoms) != 1:
            return None, False, f"a MultiPoint of {len(geom.geoms)} points; put one point per row"
        geom = geom.geoms[0]
    bad_range = out_of_range(geom)
    if bad_range:
        return None, False, bad_range
    if isinstance(geom, Point):
        return geom, False, ""
    if isinstance(geom, Polygon | MultiPolygon):
        check = check_polygon(geom)
        return (
            check.geometry,
            check.repaired,
            f"{check.reason}: {check.repair}" if check.repair else check.reason,
        )
    kind = geom.geom_type
    if "LineString" in kind:
        return None, False, f"{kind} geometry: labels must be points or polygons"
    return None, False, f"{kind} geometry: put one point or polygon per row"


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _class_of(value: Any, allowed: dict[str, str] | None) -> tuple[str | None, str]:
    """(class name, reason): numbers like 3.0 become '3'; None with a reason when empty or unknown."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "" if value is None else " ".join(str(value).split())
    if not text:
        return None, "empty class"
    if len(text) > MAX_CLASS_LENGTH:
        return None, f"class name longer than {MAX_CLASS_LENGTH} characters"
    if allowed is not None:
        match = allowed.get(_norm(text))
        if match is None:
            listing = ", ".join(sorted(allowed.values())[:15])
            return None, f"unknown class '{text[:40]}' (allowed: {listing})"
        return match, ""
    return text, ""


def parse_reference_date(value: Any) -> tuple[datetime.date | None, str]:
    """(date, reason): ISO dates, plain years 1980-2100 (-> 1 January) and 'YYYY-MM' (-> the 1st)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "missing reference date"
    if isinstance(value, datetime.datetime):
        result: datetime.date | None = value.date()
    elif isinstance(value, datetime.date):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = (
            datetime.date(int(value), 1, 1)
            if float(value).is_integer() and MIN_YEAR <= value <= MAX_YEAR
            else None
        )
    else:
        result = _date_from_text(str(value).strip())
    if result is None:
        return None, (
            f"date '{str(value)[:30]}' does not parse; use YYYY-MM-DD, YYYY-MM or a year ({MIN_YEAR}-{MAX_YEAR})"
        )
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        return None, f"date '{str(value)[:30]}' is outside the years {MIN_YEAR}-{MAX_YEAR}"
    return result, ""


def _date_from_text(text: str) -> datetime.date | None:
    try:
        if m := _YEAR.match(text):
            year = int(m.group(1))
            return datetime.date(year, 1, 1) if MIN_YEAR <= year <= MAX_YEAR else None
        if m := _YEAR_MONTH.match(text):
            return datetime.date(int(m.group(1)), int(m.group(2)), 1)
        if m := _ISO_DATE.match(text):
            return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return None
