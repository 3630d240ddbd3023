"""Upload parsers on real labels (dtwSat Mato Grosso samples) in every format, plus edge cases."""

from __future__ import annotations

import datetime
import io
import json
import os
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from monitoring.parsers import (
    CoveragePatch,
    LabelOptions,
    UploadError,
    UploadLimits,
    parse_aoi,
    parse_labels,
    parse_reference_date,
    validate_aoi_geometry,
)
from monitoring.upload_templates import write_templates

REPO = Path(__file__).resolve().parents[2]
UPLOADS = REPO / "tests" / "data" / "uploads"
TEMPLATES = REPO / "static" / "upload_templates"
SHARED = Path(os.environ.get("ESD_SHARED_DATA", REPO / ".." / "shared" / "data"))
DTWSAT = SHARED / "rasters" / "modis_matogrosso_dtwsat"
CLASSES_MT = ["Cotton-fallow", "Forest", "Soybean-cotton", "Soybean-maize", "Soybean-millet"]
LIMITS = UploadLimits()


@pytest.fixture(scope="module")
def real_subset() -> gpd.GeoDataFrame:
    """The real labels the upload samples were made from (every 10th of samples_MT.shp)."""
    frame = gpd.read_file(DTWSAT / "lucc_MT_2007_2013" / "samples_MT.shp")
    return frame.iloc[::10].reset_index(drop=True)


def _labels(name: str, options: LabelOptions | None = None, **kwargs):
    path = UPLOADS / name
    return parse_labels(path.name, path.read_bytes(), options or LabelOptions(), LIMITS, **kwargs)


@pytest.mark.parametrize(
    ("name", "options", "fmt", "crs", "class_column", "date_column"),
    [
        ("labels_mt.geojson", LabelOptions(), "geojson", "EPSG:4326", "group", "from"),
        ("labels_mt.csv", LabelOptions(), "csv", "EPSG:4326", "landcover", "year"),
        ("labels_mt.kml", LabelOptions(), "kml", "EPSG:4326", "class", "date"),
        ("labels_mt_utm21s.gpkg", LabelOptions(), "gpkg", "EPSG:32721", "class", "date"),
        ("labels_mt_utm21s_shapefile.zip", LabelOptions(), "shapefile", "EPSG:32721", "group", "from"),
        ("labels_mt_utm21s_wkt.csv", LabelOptions(crs="EPSG:32721"), "csv", "EPSG:32721", "class", "date"),
        (
            "labels_mt_custom_columns.csv",
            LabelOptions(
                lon_column="x_coord", lat_column="Y_COORD", class_column="cultura", date_column="data_ref"
            ),
            "csv",
            "EPSG:4326",
            "cultura",
            "data_ref",
        ),
    ],
)
def test_every_format_reads_the_real_labels(
    real_subset: gpd.GeoDataFrame, name, options, fmt, crs, class_column, date_column
) -> None:
    report = _labels(name, options)
    assert report.format == fmt
    assert report.source_crs == crs
    assert (report.class_column, report.date_column) == (class_column, date_column)
    assert len(report.accepted) == len(real_subset) == 61
    assert report.rejected == []
    assert report.classes == CLASSES_MT
    assert [a.klass for a in report.accepted] == list(real_subset["group"])
    assert [a.row for a in report.accepted] == list(range(1, 62))
    if crs != "EPSG:4326":
        assert report.warnings == [f"reprojected from {crs} to EPSG:4326"]
    for label, truth in zip(report.accepted, real_subset.geometry, strict=True):
        # UTM round trips and polygons (90 m squares) land on the real point
        assert label.geometry.centroid.distance(truth) < 1e-6
        assert -56.0 < label.geometry.centroid.x < -55.9 and -12.05 < label.geometry.centroid.y < -11.98
    years = {a.reference_date.year for a in report.accepted}
    assert years == {int(f[:4]) for f in real_subset["from"]}


def test_dates_keep_their_precision(real_subset: gpd.GeoDataFrame) -> None:
    full = _labels("labels_mt.geojson").accepted
    year_only = _labels("labels_mt.csv").accepted
    month = _labels(
        "labels_mt_custom_columns.csv",
        LabelOptions(
            lon_column="x_coord", lat_column="y_coord", class_column="cultura", date_column="data_ref"
        ),
    ).accepted
    assert [str(a.reference_date) for a in full] == list(real_subset["from"])
    assert all(a.reference_date.month == 1 and a.reference_date.day == 1 for a in year_only)
    assert all(a.reference_date.month == 9 and a.reference_date.day == 1 for a in month)


def test_wkt_polygons_stay_polygons() -> None:
    report = _labels("labels_mt_utm21s_wkt.csv", LabelOptions(crs="EPSG:32721"))
    geoms = [a.geometry for a in report.accepted]
    assert all(isinstance(g, Polygon) for g in geoms)
    # a 90 m square: about 8100 m² on the ground, ~0.00081 deg wide at 12 S
    widths = [g.bounds[2] - g.bounds[0] for g in geoms]
    assert all(0.0007 < w < 0.0009 for w in widths)


def test_sinusoidal_geopackage_from_dtwsat_is_reprojected() -> None:
    path = DTWSAT / "mato_grosso_brazil" / "samples.gpkg"
    report = parse_labels(path.name, path.read_bytes(), LabelOptions(), LIMITS)
    assert len(report.accepted) == 291 and report.rejected == []
    assert report.class_column == "label" and report.date_column == "start_date"
    assert report.source_crs != "EPSG:4326" and report.warnings[0].startswith("reprojected from")
    xs = [a.geometry.x for a in report.accepted]
    ys = [a.geometry.y for a in report.accepted]
    assert -56.2 < min(xs) < max(xs) < -55.0 and -12.5 < min(ys) < max(ys) < -11.5
    assert {a.reference_date for a in report.accepted} >= {datetime.date(2011, 9, 1)}


def test_geopackage_layer_option() -> None:
    assert len(_labels("labels_mt_utm21s.gpkg", LabelOptions(layer="labels_first_five")).accepted) == 5
    with pytest.raises(UploadError, match="has no layer 'nope'; its layers are: labels, labels_first_five"):
        _labels("labels_mt_utm21s.gpkg", LabelOptions(layer="nope"))


def test_self_intersecting_polygon_is_repaired_with_a_warning() -> None:
    report = _labels("labels_polygons.geojson")
    assert [a.repaired for a in report.accepted] == [False, False, True]
    bowtie = report.accepted[2].geometry
    assert isinstance(bowtie, MultiPolygon) and bowtie.is_valid and bowtie.area > 0
    assert any(w.startswith("row 3: invalid polygon repaired (Self-intersection") for w in report.warnings)
    assert [str(a.reference_date) for a in report.accepted] == ["2011-09-01", "2012-01-01", "2011-09-01"]


def test_rows_are_rejected_individually_with_user_row_numbers() -> None:
    csv = (
        b"lon,lat,class,date\n"
        b"-55.95,-12.01,Forest,2011-09-01\n"  # row 1 ok
        b"-55.95,abc,Forest,2011\n"  # row 2 bad latitude
        b"\n"  # blank line: skipped, still counted in line numbers
        b"-55.94,-12.02,,2011\n"  # row 4 (line 5): empty class
        b"-55.93,-12.03,forest,2011-13-01\n"  # row 5: bad date
        b"10.0,50.0,Soybean-maize,2012\n"  # row 6: outside coverage
        b"-55.92,-12.04,SOYBEAN-MAIZE,2012-02\n"  # row 7 ok, class spelled as allowed
    )
    report = parse_labels(
        "mixed.csv",
        csv,
        LabelOptions(allowed_classes=("Forest", "Soybean-maize")),
        LIMITS,
        coverage=shapely.box(-56.0, -12.1, -55.9, -11.9),
    )
    assert [a.row for a in report.accepted] == [1, 7]
    assert [a.klass for a in report.accepted] == ["Forest", "Soybean-maize"]
    reasons = {r.row: r.reason for r in report.rejected}
    assert reasons == {
        2: "latitude 'abc' is not a number",
        4: "empty class",
        5: "date '2011-13-01' does not parse; use YYYY-MM-DD, YYYY-MM or a year (1980-2100)",
        6: "outside the ESD store's coverage",
    }
    assert report.warnings[0] == "4 of 6 rows rejected (see the list of rejected rows)"


def test_mixed_geometry_types_reject_lines_only() -> None:
    features = [
        {"type": "Feature", "properties": {"class": "Forest", "date": "2011"}, "geometry": g}
        for g in (
            {"type": "Point", "coordinates": [-55.95, -12.01, 350.0]},
            {"type": "LineString", "coordinates": [[-55.95, -12.01], [-55.94, -12.0]]},
            shapely.geometry.mapping(shapely.box(-55.95, -12.02, -55.94, -12.01)),
            None,
            {"type": "MultiPoint", "coordinates": [[-55.95, -12.01]]},
        )
    ]
    content = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    report = parse_labels("mixed.geojson", content, LabelOptions(), LIMITS)
    assert [(a.row, a.geometry.geom_type) for a in report.accepted] == [
        (1, "Point"),
        (3, "Polygon"),
        (5, "Point"),
    ]
    assert not report.accepted[0].geometry.has_z
    assert [(r.row, r.reason) for r in report.rejected] == [
        (2, "LineString geometry: labels must be points or polygons"),
        (4, "no geometry (null)"),
    ]


def test_all_rows_rejected_is_a_whole_file_error_with_the_rows() -> None:
    content = b"lon,lat,class,date\n-55.9,-12.0,Forest,someday\n-55.9,-12.0,Forest,\n"
    with pytest.raises(UploadError) as caught:
        parse_labels("dates.csv", content, LabelOptions(), LIMITS)
    assert "no usable labels, all 2 rows were rejected" in caught.value.message
    assert [r.row for r in caught.value.rejected] == [1, 2]


def test_numeric_classes_get_a_warning() -> None:
    report = parse_labels(
        "codes.csv", b"lon,lat,class,date\n-55.9,-12.0,1,2011\n-55.8,-12.0,2,2011\n", LabelOptions(), LIMITS
    )
    assert report.classes == ["1", "2"]
    assert report.warnings[0].startswith("the classes are numbers (1, 2)")


def test_zip_with_macos_metadata_and_a_folder_is_accepted() -> None:
    with zipfile.ZipFile(UPLOADS / "labels_mt_utm21s_shapefile.zip") as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for name, data in members.items():
            dst.writestr(f"export/{name}", data)
            dst.writestr(f"__MACOSX/export/._{name}", b"\x00\x05\x16\x07")
    report = parse_labels("mac.zip", buf.getvalue(), LabelOptions(), LIMITS)
    assert len(report.accepted) == 61 and report.source_crs == "EPSG:32721"


def test_zip_bomb_is_refused_without_extracting() -> None:
    content = (REPO / "tests" / "data" / "bad_inputs" / "zip_bomb.zip").read_bytes()
    start = time.perf_counter()
    with pytest.raises(UploadError, match="would expand to 1,024.0 MB"):
        parse_labels("zip_bomb.zip", content, LabelOptions(), LIMITS)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-07-15", datetime.date(2019, 7, 15)),
        ("2019-07-15T10:30:00Z", datetime.date(2019, 7, 15)),
        ("2019/7/5", datetime.date(2019, 7, 5)),
        ("2019-07", datetime.date(2019, 7, 1)),
        ("2019", datetime.date(2019, 1, 1)),
        (2019, datetime.date(2019, 1, 1)),
        (2019.0, datetime.date(2019, 1, 1)),
        (datetime.datetime(2011, 9, 1, 12), datetime.date(2011, 9, 1)),
        (datetime.date(2011, 9, 1), datetime.date(2011, 9, 1)),
        ("1979", None),
        ("2101-01-01", None),
        ("15/07/2019", None),
        ("2019-02-30", None),
        ("", None),
        (None, None),
        (2019.5, None),
    ],
)
def test_reference_dates(value, expected) -> None:
    parsed, reason = parse_reference_date(value)
    assert parsed == expected
    assert (reason == "") == (expected is not None)


@pytest.mark.parametrize("name", ["aoi_mt.geojson", "aoi_mt_utm21s.gpkg", "aoi_mt_utm21s_shapefile.zip"])
def test_aoi_files(name: str) -> None:
    report = parse_aoi(
        name, (UPLOADS / name).read_bytes(), LIMITS, coverage=shapely.box(-56.5, -12.5, -55.5, -11.5)
    )
    assert isinstance(report.geometry, MultiPolygon) and report.geometry.is_valid
    # 0.1 x 0.07 degrees at 12 S: 10.9 km x 7.7 km
    assert report.area_km2 == pytest.approx(84.32, abs=0.05)
    assert report.name == "dtwSat Mato Grosso"
    x0, y0, x1, y1 = report.geometry.bounds
    assert (x0, y0, x1, y1) == pytest.approx((-56.0, -12.05, -55.9, -11.98), abs=1e-6)
    assert report.warnings == (
        [] if name.endswith("geojson") else ["reprojected from EPSG:32721 to EPSG:4326"]
    )


def test_drawn_aoi_as_geojson_text_dict_or_shapely() -> None:
    ring = [[-55.9, -12.5], [-55.6, -12.5], [-55.6, -12.3], [-55.9, -12.3], [-55.9, -12.5]]
    geom = {"type": "Polygon", "coordinates": [ring]}
    feature = {"type": "Feature", "properties": {}, "geometry": geom}
    collection = {"type": "FeatureCollection", "features": [feature]}
    for given in (geom, json.dumps(geom), shapely.geometry.shape(geom), feature, json.dumps(collection)):
        result = validate_aoi_geometry(given, LIMITS)
        assert result.area_km2 == pytest.approx(721.76, abs=0.05)
        assert result.warnings == []
    geometry, area, warnings = validate_aoi_geometry(geom, LIMITS)
    assert isinstance(geometry, MultiPolygon) and area > 0 and warnings == []


def test_aoi_bowtie_is_repaired_and_partial_coverage_warned() -> None:
    bowtie = Polygon([(-55.9, -12.5), (-55.6, -12.3), (-55.6, -12.5), (-55.9, -12.3)])
    result = validate_aoi_geometry(bowtie, LIMITS, coverage=shapely.box(-56.0, -12.6, -55.75, -12.2))
    assert result.geometry.is_valid and len(result.geometry.geoms) == 2
    assert result.warnings[0].startswith("invalid AOI polygon repaired (Self-intersection")
    # the report says what the repair did and the area before (the loops cancel) and after
    assert "split into 2 polygons; area as drawn 0 km², after repair " in result.warnings[0]
    after = float(result.warnings[0].rsplit("after repair ", 1)[1].split(" km²")[0])
    assert after == pytest.approx(result.area_km2, rel=1e-3) and after > 0
    assert (
        result.warnings[1]
        == "50% of the AOI lies outside the ESD store's coverage; those pixels will have no data."
    )


def test_label_polygon_repair_reports_areas() -> None:
    report = _labels("labels_polygons.geojson")
    (warning,) = [w for w in report.warnings if w.startswith("row 3:")]
    assert "split into 2 polygons; area as drawn" in warning and "after repair" in warning


def test_small_outside_share_is_not_reported_as_zero_percent() -> None:
    aoi = shapely.box(-55.9, -12.5, -55.6, -12.3)
    coverage = shapely.box(-55.95, -12.55, -55.601, -12.25)  # all but a 0.001° strip: 0.3% outside
    result = validate_aoi_geometry(aoi, LIMITS, coverage=coverage)
    assert len(result.warnings) == 1 and not result.warnings[0].startswith("0%"), result.warnings
    assert result.warnings[0].startswith("0.3% of the AOI lies outside"), result.warnings
    inside = validate_aoi_geometry(aoi, LIMITS, coverage=shapely.box(-56, -13, -55, -12))
    assert inside.warnings == []


def test_no_coverage_message_names_the_nearest_patches_and_years() -> None:
    patches = [
        CoveragePatch("MT-DTWSAT", (2007, 2008, 2009), shapely.box(-55.99, -12.05, -55.91, -11.99)),
        CoveragePatch("SI-EOLEARN", (2016, 2017), shapely.box(14.5, 45.9, 14.6, 46.0)),
        CoveragePatch("CO-P035R032", (2008, 2010, 2012), shapely.box(-106.9, 39.0, -106.5, 39.4)),
    ]
    coverage = shapely.union_all([p.footprint for p in patches])
    munich = shapely.box(11.4, 48.0, 11.6, 48.2)
    with pytest.raises(UploadError) as caught:
        validate_aoi_geometry(munich, LIMITS, coverage=coverage, patches=patches)
    message = caught.value.message
    assert "does not overlap the ESD store's coverage" in message
    assert "-106.9" not in message.split("CO-P035R032")[0]  # no bounding box of everything first
    first = message.index("SI-EOLEARN (2016-2017; lon 14.500 to 14.600, lat 45.900 to 46.000;")
    assert first < message.index("MT-DTWSAT (2007-2009;") and "CO-P035R032 (2008, 2010, 2012;" in message


def test_aoi_limit_message_states_area_and_limit() -> None:
    with pytest.raises(UploadError, match="the AOI covers 722 km², more than the limit of 500 km²"):
        validate_aoi_geometry(shapely.box(-55.9, -12.5, -55.6, -12.3), UploadLimits(max_aoi_km2=500))


def test_aoi_from_kml_and_csv() -> None:
    kml = (TEMPLATES / "labels_template.kml").read_text()
    polygon_only = kml.split("<Placemark>")[0] + "<Placemark>" + kml.split("<Placemark>")[-1]
    report = parse_aoi("field.kml", polygon_only.encode(), LIMITS)
    assert report.format == "kml" and report.name == "label 7" and 0.01 < report.area_km2 < 0.03
    csv = b'wkt,name\n"POLYGON ((-55.9 -12.5, -55.6 -12.5, -55.6 -12.3, -55.9 -12.3, -55.9 -12.5))",demo\n'
    assert parse_aoi("aoi.csv", csv, LIMITS).area_km2 == pytest.approx(721.76, abs=0.05)


def test_templates_parse_and_are_up_to_date(tmp_path: Path) -> None:
    written = write_templates(tmp_path)
    assert {p.name for p in written} == {p.name for p in TEMPLATES.iterdir()}
    for path in written:
        if path.suffix in (".geojson", ".csv", ".kml"):
            assert path.read_bytes() == (TEMPLATES / path.name).read_bytes(), path.name
    for path in sorted(TEMPLATES.glob("labels_template*")):
        report = parse_labels(path.name, path.read_bytes(), LabelOptions(), LIMITS)
        assert report.classes == ["Cotton-fallow", "Forest", "Soybean-maize"], path.name
        assert report.rejected == [] and len(report.accepted) in (6, 7)
        assert all(
            -55.9 < a.geometry.centroid.x < -55.6 and -12.5 < a.geometry.centroid.y < -12.3
            for a in report.accepted
        )
    aoi = parse_aoi("aoi_template.geojson", (TEMPLATES / "aoi_template.geojson").read_bytes(), LIMITS)
    assert aoi.name == "Demo AOI (Mato Grosso)" and aoi.area_km2 == pytest.approx(721.76, abs=0.05)


def test_point_labels_sit_on_their_coordinates() -> None:
    report = _labels("labels_mt.csv")
    first = report.accepted[0].geometry
    assert isinstance(first, Point) and (first.x, first.y) == (-55.9881861, -12.0364583)


def test_large_wkt_polygon_in_csv() -> None:
    """A WKT cell far larger than the csv module's default 128 kB field limit."""
    circle = Point(-55.8, -12.4).buffer(0.05, quad_segs=4000)
    content = f'wkt,name\n"{circle.wkt}",big field\n'.encode()
    assert len(content) > 500_000
    report = parse_aoi("big.csv", content, LIMITS)
    assert report.name == "big field"
    assert report.area_km2 == pytest.approx(94.48, abs=0.05)


def test_kmz_is_read_like_its_kml() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", (UPLOADS / "labels_mt.kml").read_bytes())
    report = parse_labels("labels_mt.kmz", buf.getvalue(), LabelOptions(), LIMITS)
    assert report.format == "kml" and len(report.accepted) == 61 and report.classes == CLASSES_MT


def test_drawn_aoi_that_is_not_geojson() -> None:
    with pytest.raises(UploadError, match="the AOI is not a valid GeoJSON geometry"):
        validate_aoi_geometry('{"type": "Polygon", "coordinates": "nope"}', LIMITS)
    with pytest.raises(UploadError, match="the AOI is a LineString; an AOI must be a polygon"):
        validate_aoi_geometry({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, LIMITS)
