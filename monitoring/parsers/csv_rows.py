"""CSV uploads: lon/lat or WKT columns, comma, semicolon or tab separated (row = line number - 1)."""

from __future__ import annotations

import csv
import io
from typing import Any

import shapely
from pyproj import CRS
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from monitoring.parsers.table import CsvColumns, SourceTable, check_count, decode_text, find_column, parse_crs
from monitoring.parsers.types import (
    DEFAULT_LAT_COLUMNS,
    DEFAULT_LON_COLUMNS,
    DEFAULT_WKT_COLUMNS,
    UploadError,
    UploadLimits,
)


def read_csv(name: str, content: bytes, limits: UploadLimits, opts: CsvColumns) -> SourceTable:
    """Rows of a UTF-8 CSV as points (lon/lat columns) or WKT geometries, in ``opts.crs`` or EPSG:4326.

    Decimal commas are accepted when the separator is not a comma; blank lines are skipped but
    still count in the row numbers (row = line number - 1).
    """
    text = decode_text(name, content)
    sample = text[:8192]
    try:
        delimiter = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t").delimiter
    except (csv.Error, IndexError):
        delimiter = ","
    # a WKT cell may hold a large polygon: allow cells up to the file size limit (only ever raised)
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_bytes))
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
    check_count(name, len(rows), limits)
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
    wkt_key, lon_key, lat_key = wkt_col or "", lon_col or "", lat_col or ""
    geometries: list[BaseGeometry | None] = []
    errors: dict[int, str] = {}
    for i, rec in enumerate(records):
        try:
            if use_wkt:
                wkt = rec[wkt_key]
                if not wkt:
                    raise ValueError("the WKT cell is empty")
                geometries.append(shapely.force_2d(shapely.from_wkt(wkt)))
            else:
                x = _number(rec[lon_key], "longitude", delimiter)
                y = _number(rec[lat_key], "latitude", delimiter)
                geometries.append(Point(x, y))
        except shapely.errors.GEOSException:
            geometries.append(None)
            errors[i] = f"'{rec[wkt_key][:40]}' is not valid WKT"
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
    """A coordinate cell as a float; ValueError with a row-level reason otherwise."""
    if text == "":
        raise ValueError(f"{what} is empty")
    cleaned = text.replace(",", ".") if delimiter != "," and text.count(",") == 1 else text
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{what} '{text[:30]}' is not a number") from None
    return value
