"""Property-based tests (Hypothesis) of the label and AOI parsers on generated GeoJSON, CSV and archives.

Whatever the bytes, a parser either refuses the file with ``UploadError`` (a message for the user)
or returns a report whose every accepted label / AOI is valid, on the globe and accounted for:
never another exception (a 500 at the API). Bounded examples, derandomized (same cases every run).
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from pathlib import Path

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon

from monitoring.parsers import (
    LabelOptions,
    UploadError,
    UploadLimits,
    parse_aoi,
    parse_labels,
    validate_aoi_geometry,
)

UPLOADS = Path(__file__).resolve().parents[1] / "data" / "uploads"
LIMITS = UploadLimits(max_aoi_km2=50_000.0)
PROPERTY = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-200, max_value=200),
    st.integers(min_value=-(10**6), max_value=10**6),
)
lonlat = st.tuples(st.floats(min_value=-60, max_value=-50), st.floats(min_value=-15, max_value=-10))
rings = st.lists(lonlat, min_size=0, max_size=8).map(
    lambda pts: [list(p) for p in pts] + [list(pts[0])] if pts else []
)
geometries = st.one_of(
    st.builds(lambda p: {"type": "Point", "coordinates": list(p)}, lonlat),
    st.builds(lambda a, b: {"type": "Point", "coordinates": [a, b]}, numbers, numbers),
    st.builds(lambda r: {"type": "Polygon", "coordinates": [r]}, rings),
    st.builds(lambda r: {"type": "LineString", "coordinates": r}, rings),
    st.builds(lambda r: {"type": "MultiPolygon", "coordinates": [[r]]}, rings),
    st.just(None),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)
classes = st.one_of(
    st.sampled_from(["Forest", "Pasture", "Soy"]), st.text(max_size=12), st.integers(), st.none()
)
dates = st.one_of(
    st.sampled_from(["2011-09-01", "2012", "2012-07", "13/01/2012", "", "yesterday", "1850-01-01"]),
    st.dates().map(str),
    st.text(max_size=10),
)
features = st.builds(
    lambda g, c, d: {"type": "Feature", "geometry": g, "properties": {"class": c, "date": d}},
    geometries,
    classes,
    dates,
)


def _check_labels(report, rows: int | None) -> None:
    assert report.accepted, "a report with no accepted label must be an UploadError"
    for label in report.accepted:
        geom = label.geometry
        assert geom.is_valid and not geom.is_empty and geom.geom_type in {"Point", "Polygon", "MultiPolygon"}
        x0, y0, x1, y1 = geom.bounds
        assert -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
        assert label.klass.strip() == label.klass and label.klass
        assert 1980 <= label.reference_date.year <= 2100
    if rows is not None:
        assert len(report.accepted) + len(report.rejected) == rows


@PROPERTY
@given(st.lists(features, min_size=0, max_size=12))
def test_label_geojson_is_parsed_or_refused_with_a_message(feats) -> None:
    content = json.dumps({"type": "FeatureCollection", "features": feats}).encode()
    try:
        report = parse_labels("labels.geojson", content, LabelOptions(), LIMITS)
    except UploadError as exc:
        assert exc.message
        return
    _check_labels(report, len(feats))


@PROPERTY
@given(st.lists(st.tuples(numbers, numbers, classes, dates), min_size=0, max_size=15))
def test_label_csv_is_parsed_or_refused_with_a_message(rows) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["lon", "lat", "class", "date"])
    for lon, lat, klass, date in rows:
        writer.writerow([lon, lat, "" if klass is None else klass, date])
    try:
        report = parse_labels("labels.csv", buf.getvalue().encode(), LabelOptions(), LIMITS)
    except UploadError as exc:
        assert exc.message
        return
    _check_labels(report, None)  # a CSV row count is what the CSV reader sees (quoted newlines)


@PROPERTY
@given(st.binary(max_size=600), st.sampled_from(["x.csv", "x.geojson", "x.zip", "x.gpkg", "x.kml"]))
def test_arbitrary_bytes_are_refused_with_a_message(content, name) -> None:
    for parse in (
        lambda: parse_labels(name, content, LabelOptions(), LIMITS),
        lambda: parse_aoi(name, content, LIMITS),
    ):
        try:
            parse()
        except UploadError as exc:
            assert exc.message


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["labels.shp", "labels.dbf", "labels.shx", "labels.prj", "../x", "a/b.txt"]),
            st.binary(max_size=200),
        ),
        max_size=5,
    )
)
def test_generated_archives_are_refused_or_parsed(members) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    try:
        report = parse_labels("labels.zip", buf.getvalue(), LabelOptions(), LIMITS)
    except UploadError as exc:
        assert exc.message
        return
    _check_labels(report, None)


@PROPERTY
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
def test_damaged_real_shapefile_is_refused_or_parsed(offset, value) -> None:
    original = (UPLOADS / "labels_mt_utm21s_shapefile.zip").read_bytes()
    data = bytearray(original)
    data[offset % len(data)] = value
    try:
        report = parse_labels("labels.zip", bytes(data), LabelOptions(), LIMITS)
    except UploadError as exc:
        assert exc.message
        return
    _check_labels(report, None)


@PROPERTY
@given(st.lists(rings, min_size=1, max_size=3))
def test_aoi_polygons_are_valid_or_refused(ring_list) -> None:
    geometry = {"type": "MultiPolygon", "coordinates": [[r] for r in ring_list]}
    coverage = shapely.box(-56, -13, -54, -11)
    try:
        result = validate_aoi_geometry(geometry, LIMITS, coverage=coverage)
    except UploadError as exc:
        assert exc.message
        return
    assert isinstance(result.geometry, MultiPolygon) and result.geometry.is_valid
    assert 0 < result.area_km2 <= LIMITS.max_aoi_km2 and math.isfinite(result.area_km2)
    assert not result.geometry.intersection(coverage).is_empty
    for warning in result.warnings:
        assert not warning.startswith(("0% ", "100% ")), warning


@PROPERTY
@given(st.lists(features, min_size=1, max_size=5))
def test_aoi_files_are_valid_or_refused(feats) -> None:
    content = json.dumps({"type": "FeatureCollection", "features": feats}).encode()
    try:
        report = parse_aoi("aoi.geojson", content, LIMITS)
    except UploadError as exc:
        assert exc.message
        return
    assert report.geometry.is_valid and 0 < report.area_km2 <= LIMITS.max_aoi_km2
