"""(Re)create the bad-input corpus ``tests/data/bad_inputs/`` and its ``manifest.json``, deterministically.

Each case is one file the upload must refuse as a whole, with the substring its message must contain.
Manifest entries: ``file``, ``kind`` (``labels`` | ``aoi``), ``options`` (LabelOptions fields),
``limits`` (UploadLimits fields overriding the defaults), ``coverage_bbox`` (the ESD store's coverage
as [lon_min, lat_min, lon_max, lat_max], or null), ``expected`` (message substring) and ``about``.
Run from the repo root: ``.venv/bin/python -m tests.data.make_bad_inputs``.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import LineString, Point, box

from monitoring.upload_templates import write_gpkg

HERE = Path(__file__).resolve().parent
OUT = HERE / "bad_inputs"
ZIP_TIME = (2024, 1, 1, 0, 0, 0)
DEMO_BBOX = [-55.95, -12.55, -55.55, -12.25]  # demo store coverage (lon/lat) used by coverage cases
GOOD_CSV = (
    "lon,lat,class,date\n-55.8412,-12.4183,Forest,2019-07-15\n-55.7356,-12.3622,Soybean-maize,2020-01-20\n"
)


@dataclass
class Case:
    """One corpus file and what the upload must answer."""

    file: str  # name inside bad_inputs/
    kind: str  # "labels" | "aoi"
    expected: str  # substring of the UploadError message
    about: str  # what is wrong, in words
    options: dict[str, Any] = field(default_factory=dict)  # LabelOptions fields
    limits: dict[str, Any] = field(default_factory=dict)  # UploadLimits overrides
    coverage_bbox: list[float] | None = None  # ESD store coverage [lon_min, lat_min, lon_max, lat_max]


def _fc(features: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> bytes:
    doc: dict[str, Any] = {"type": "FeatureCollection", **(extra or {}), "features": features}
    return (json.dumps(doc, indent=1) + "\n").encode()


def _feat(geometry: dict[str, Any] | None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _pt(x: float, y: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y]}


def _poly(ring: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return _poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])


def _labels_frame(crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "class": ["Forest", "Soybean-maize", "Cotton-fallow"],
            "date": ["2019-07-15", "2020-01-20", "2020-03-10"],
        },
        geometry=[Point(-55.8412, -12.4183), Point(-55.7356, -12.3622), Point(-55.6543, -12.4026)],
        crs=crs,
    )


def _shapefile_parts(frame: gpd.GeoDataFrame, stem: str = "labels") -> dict[str, bytes]:
    """The files of a Shapefile written by GDAL, by extension."""
    with tempfile.TemporaryDirectory() as tmp:
        frame.to_file(Path(tmp) / f"{stem}.shp", driver="ESRI Shapefile", encoding="UTF-8")
        return {p.suffix: p.read_bytes() for p in sorted(Path(tmp).iterdir())}


def _zip(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = compression
            zf.writestr(info, data)
    return buf.getvalue()


def _corrupt_member(data: bytes, member: str) -> bytes:
    """``data`` (a zip) with bytes in the middle of ``member``'s compressed stream overwritten."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    out = bytearray(data)
    out[middle : middle + 8] = b"\xff" * 8
    return bytes(out)


def _zip_bomb() -> bytes:
    """A zipped 'Shapefile' whose .shp expands to 1 GiB of zeros (about 1 MB on disk)."""
    parts = _shapefile_parts(_labels_frame())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo("labels.shp", date_time=ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        chunk = bytes(1 << 20)
        with zf.open(info, "w", force_zip64=True) as dst:
            for _ in range(1024):
                dst.write(chunk)
        for ext in (".shx", ".dbf", ".prj"):
            small = zipfile.ZipInfo(f"labels{ext}", date_time=ZIP_TIME)
            small.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(small, parts[ext])
    return buf.getvalue()


def _mark_encrypted(data: bytes) -> bytes:
    """Set the 'encrypted' flag of every member (local and central headers), as a password zip has."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = out.find(signature)
        while start != -1:
            out[start + offset] |= 0x01
            start = out.find(signature, start + 4)
    return bytes(out)


def _gpkg_bytes(frame: gpd.GeoDataFrame, layer: str = "labels") -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.gpkg"
        write_gpkg(frame, path, layer=layer)
        return path.read_bytes()


def _attribute_only_gpkg() -> bytes:
    import pandas as pd
    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.gpkg"
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00Z"})
        try:
            pyogrio.write_dataframe(
                pd.DataFrame({"class": ["Forest"], "date": ["2019"]}), path, layer="table"
            )
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
        return path.read_bytes()


def build() -> list[tuple[Case, bytes]]:
    """Every case with its file content."""
    rng = random.Random(42)
    shp = _shapefile_parts(_labels_frame())
    good_geojson = _fc([_feat(_pt(-55.8412, -12.4183), **{"class": "Forest", "date": "2019-07-15"})] * 40)
    good_gpkg = _gpkg_bytes(_labels_frame())
    good_kml = (
        Path(__file__).resolve().parents[2] / "static/upload_templates/labels_template.kml"
    ).read_bytes()
    L, A = "labels", "aoi"
    cases: list[tuple[Case, bytes]] = [
        # empty and truncated files
        (Case("empty.geojson", L, "is empty", "zero-byte GeoJSON"), b""),
        (Case("empty.csv", L, "is empty", "zero-byte CSV"), b""),
        (
            Case("header_only.csv", L, "contains no features", "CSV with a header and no rows"),
            b"lon,lat,class,date\n",
        ),
        (
            Case("empty_collection.geojson", L, "contains no features", "FeatureCollection without features"),
            _fc([]),
        ),
        (Case("truncated.geojson", L, "is not valid JSON", "GeoJSON cut in the middle"), good_geojson[:700]),
        (
            Case("truncated_shapefile.zip", L, "damaged or truncated", "zipped Shapefile cut in the middle"),
            _zip([(f"labels{e}", shp[e]) for e in (".shp", ".shx", ".dbf", ".prj")])[:400],
        ),
        (
            Case(
                "corrupt_deflate_shapefile.zip",
                L,
                "damaged or truncated",
                "zipped Shapefile whose compressed .shp stream is damaged (zlib error; was a 500)",
            ),
            _corrupt_member(
                _zip([(f"labels{e}", shp[e]) for e in (".shp", ".shx", ".dbf", ".prj")]), "labels.shp"
            ),
        ),
        (
            Case("truncated.gpkg", L, "could not be read as GeoPackage", "GeoPackage cut after 20 kB"),
            good_gpkg[:20480],
        ),
        (Case("truncated.kml", L, "could not be read as KML", "KML cut in the middle"), good_kml[:900]),
        (
            Case("empty_document_aoi.kml", A, "contains no features", "KML document without placemarks"),
            b'<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
            b"<Document><name>empty</name></Document></kml>\n",
        ),
        # wrong extensions and wrong content
        (
            Case("labels.xlsx", L, "unsupported file type '.xlsx'", "Excel workbook"),
            _zip([("xl/workbook.xml", b"<x/>")]),
        ),
        (Case("labels.shp", L, "zip the .shp, .shx, .dbf and .prj", "a lone .shp"), shp[".shp"]),
        (Case("labels_no_extension", L, "unsupported file type '(none)'", "no extension"), GOOD_CSV.encode()),
        (Case("csv_named.geojson", L, "is not valid JSON", "CSV content named .geojson"), GOOD_CSV.encode()),
        (
            Case("zip_named.csv", L, "looks like a ZIP archive", "zip content named .csv"),
            _zip([("a.csv", b"x")]),
        ),
        (Case("geojson_named.gpkg", L, "is not a GeoPackage", "GeoJSON content named .gpkg"), good_geojson),
        (Case("geojson_named.kml", L, "is not KML", "GeoJSON content named .kml"), good_geojson),
        (Case("text_named.zip", L, "is not a ZIP archive", "text named .zip"), GOOD_CSV.encode()),
        (Case("json_not_geojson.geojson", L, "is JSON but not GeoJSON", "a JSON list"), b"[1, 2, 3]\n"),
        (
            Case("deeply_nested.geojson", L, "nested too deeply", "coordinates nested 5000 levels deep"),
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": '
            b'{"type": "Point", "coordinates": ' + b"[" * 5000 + b"]" * 5000 + b"}}]}\n",
        ),
        # zipped Shapefiles: missing parts, unsafe archives
        (
            Case("missing_prj_shapefile.zip", L, "no CRS", "zipped Shapefile without .prj"),
            _zip([(f"labels{e}", shp[e]) for e in (".shp", ".shx", ".dbf")]),
        ),
        (
            Case(
                "missing_dbf_shapefile.zip",
                L,
                "incomplete, missing labels.dbf",
                "zipped Shapefile without .dbf",
            ),
            _zip([(f"labels{e}", shp[e]) for e in (".shp", ".shx", ".prj")]),
        ),
        (
            Case(
                "missing_shx_shapefile.zip",
                L,
                "incomplete, missing labels.shx",
                "zipped Shapefile without .shx",
            ),
            _zip([(f"labels{e}", shp[e]) for e in (".shp", ".dbf", ".prj")]),
        ),
        (
            Case("no_shp.zip", L, "contains no .shp file", "zip with a text file only"),
            _zip([("README.txt", b"labels are in the other zip\n")]),
        ),
        (
            Case("two_shapefiles.zip", L, "contains 2 Shapefiles", "two Shapefiles in one zip"),
            _zip([(f"{s}{e}", shp[e]) for s in ("a", "b") for e in (".shp", ".shx", ".dbf", ".prj")]),
        ),
        (
            Case("password_protected.zip", L, "is password-protected", "zip members flagged as encrypted"),
            _mark_encrypted(_zip([(f"labels{e}", shp[e]) for e in (".shp", ".shx", ".dbf", ".prj")])),
        ),
        (Case("zip_bomb.zip", L, "would expand to 1,024.0 MB", "1 GiB of zeros in a 1 MB zip"), _zip_bomb()),
        (
            Case("path_traversal.zip", L, "unsafe path '../labels.shp'", "member paths with ../"),
            _zip([(f"../labels{e}", shp[e]) for e in (".shp", ".shx", ".dbf", ".prj")]),
        ),
        (
            Case("absolute_path.zip", L, "unsafe path '/home/user/labels.shp'", "absolute member paths"),
            _zip([(f"/home/user/labels{e}", shp[e]) for e in (".shp", ".shx", ".dbf", ".prj")]),
        ),
        (
            Case("too_many_members.zip", L, "more than the limit of 50", "60 files in one zip"),
            _zip(
                [(f"labels{e}", shp[e]) for e in (".shp", ".shx", ".dbf", ".prj")]
                + [(f"extra_{i:02d}.txt", b"x") for i in range(56)]
            ),
        ),
        # CRS
        (
            Case("no_crs.gpkg", L, "no CRS", "GeoPackage layer without a spatial reference"),
            _gpkg_bytes(_labels_frame(crs=None)),
        ),
        (
            Case("unknown_crs.geojson", L, "unknown CRS", "GeoJSON naming EPSG:999999"),
            _fc(
                [_feat(_pt(-55.8, -12.4), **{"class": "Forest", "date": "2019"})],
                {"crs": {"type": "name", "properties": {"name": "EPSG:999999"}}},
            ),
        ),
        (
            Case("unknown_crs_shapefile.zip", L, "unknown CRS", "zipped Shapefile whose .prj is not a CRS"),
            _zip(
                [(f"labels{e}", shp[e]) for e in (".shp", ".shx", ".dbf")]
                + [("labels.prj", b'PROJCS["my own grid",UNKNOWN[1,2,3]]')]
            ),
        ),
        (
            Case(
                "unknown_crs_option.csv",
                L,
                "unknown CRS",
                "crs option that is not a CRS",
                options={"crs": "EPSG:0"},
            ),
            GOOD_CSV.encode(),
        ),
        (
            Case("aoi_no_crs_shapefile.zip", A, "no CRS", "AOI Shapefile without .prj"),
            _zip(
                [
                    (f"aoi{e}", data)
                    for e, data in _shapefile_parts(
                        gpd.GeoDataFrame(
                            {"name": ["x"]}, geometry=[box(-55.9, -12.5, -55.6, -12.3)], crs="EPSG:4326"
                        ),
                        "aoi",
                    ).items()
                    if e in (".shp", ".shx", ".dbf")
                ]
            ),
        ),
        # geometry problems
        (
            Case(
                "degenerate_polygons.geojson",
                L,
                "degenerate polygon",
                "zero-area polygons (collinear, repeated points)",
            ),
            _fc(
                [
                    _feat(
                        _poly([(-55.80, -12.40), (-55.79, -12.40), (-55.78, -12.40), (-55.80, -12.40)]),
                        **{"class": "Forest", "date": "2019"},
                    ),
                    _feat(
                        _poly([(-55.70, -12.35), (-55.70, -12.35), (-55.70, -12.35), (-55.70, -12.35)]),
                        **{"class": "Cotton-fallow", "date": "2020"},
                    ),
                ]
            ),
        ),
        (
            Case(
                "self_intersecting_zero_area.geojson",
                L,
                "degenerate polygon",
                "ring that folds back on itself",
            ),
            _fc(
                [
                    _feat(
                        _poly(
                            [
                                (-55.80, -12.40),
                                (-55.78, -12.40),
                                (-55.79, -12.40),
                                (-55.77, -12.40),
                                (-55.80, -12.40),
                            ]
                        ),
                        **{"class": "Forest", "date": "2019"},
                    )
                ]
            ),
        ),
        (
            Case("lines_only.geojson", L, "labels must be points or polygons", "LineString labels"),
            _fc(
                [
                    _feat(
                        {"type": "LineString", "coordinates": [[-55.8, -12.4], [-55.7, -12.35]]},
                        **{"class": "Forest", "date": "2019"},
                    )
                ]
                * 3
            ),
        ),
        (
            Case(
                "mixed_geometry_aoi.geojson", A, "an AOI must contain only polygons", "polygon + point + line"
            ),
            _fc(
                [
                    _feat(_box(-55.9, -12.5, -55.6, -12.3), name="demo"),
                    _feat(_pt(-55.8, -12.4)),
                    _feat(
                        json.loads(json.dumps(LineString([(-55.8, -12.4), (-55.7, -12.3)]).__geo_interface__))
                    ),
                ]
            ),
        ),
        (
            Case("aoi_points.geojson", A, "an AOI must contain only polygons", "points uploaded as an AOI"),
            _fc([_feat(_pt(-55.8, -12.4)), _feat(_pt(-55.7, -12.35))]),
        ),
        (
            Case("aoi_degenerate.geojson", A, "degenerate", "AOI polygon with zero area"),
            _fc([_feat(_poly([(-55.9, -12.5), (-55.6, -12.5), (-55.75, -12.5), (-55.9, -12.5)]))]),
        ),
        (
            Case("out_of_range.csv", L, "coordinates out of range", "latitude 95 and longitude 200"),
            b"lon,lat,class,date\n200,-12.4,Forest,2019\n-55.7,95,Cotton-fallow,2020\n",
        ),
        (
            Case(
                "swapped_lon_lat.csv", L, "longitude and latitude look swapped", "lat and lon columns swapped"
            ),
            b"lon,lat,class,date\n-12.4183,-155.8412,Forest,2019\n-12.3622,-155.7356,Cotton-fallow,2020\n",
        ),
        (
            Case(
                "projected_coords_no_crs.csv",
                L,
                "look projected",
                "UTM metres in a CSV without the crs option",
            ),
            b"x,y,class,date\n610180.58,8669257.06,Forest,2019\n610924.35,8669484.72,Forest,2019\n",
        ),
        (
            Case("aoi_out_of_range.geojson", A, "coordinates out of range", "AOI crossing lon 190"),
            _fc([_feat(_box(185.0, -12.5, 190.0, -12.3))]),
        ),
        (
            Case("aoi_bad_wkt.csv", A, "is not valid WKT", "AOI CSV whose WKT does not parse"),
            b'wkt,name\n"POLYGON ((-55.9 -12.5, -55.6 -12.5, -55.6"",demo\n',
        ),
        # limits
        (
            Case(
                "too_many_features.csv",
                L,
                "more than the limit of 100",
                "150 rows, limit 100",
                limits={"max_features": 100},
            ),
            (
                "lon,lat,class,date\n"
                + "".join(
                    f"{-55.9 + rng.random() * 0.3:.5f},{-12.5 + rng.random() * 0.2:.5f},Forest,2019\n"
                    for _ in range(150)
                )
            ).encode(),
        ),
        (
            Case(
                "too_large.geojson",
                L,
                "larger than the upload limit",
                "file over a 10 kB limit",
                limits={"max_bytes": 10_000},
            ),
            _fc(
                [
                    _feat(_pt(round(-55.9 + i * 1e-4, 6), -12.4), **{"class": "Forest", "date": "2019"})
                    for i in range(200)
                ]
            ),
        ),
        (
            Case(
                "aoi_too_large.geojson",
                A,
                "more than the limit of 10,000 km²",
                "AOI of 2 x 2 degrees (about 47,000 km²)",
            ),
            _fc([_feat(_box(-57.0, -13.5, -55.0, -11.5), name="too big")]),
        ),
        # encodings and binary content
        (
            Case("non_utf8.csv", L, "is not UTF-8 text", "Latin-1 CSV (Várzea)"),
            "lon,lat,class,date\n-55.8,-12.4,Várzea,2019\n".encode("latin-1"),
        ),
        (
            Case("non_utf8.geojson", L, "is not UTF-8 text", "Latin-1 GeoJSON"),
            (
                '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                '{"class": "Várzea", "date": "2019"}, "geometry": {"type": "Point", "coordinates": [-55.8, -12.4]}}]}\n'
            ).encode("latin-1"),
        ),
        (
            Case("binary_garbage.csv", L, "is a binary file", "random bytes named .csv"),
            bytes(rng.randrange(256) for _ in range(4096)),
        ),
        # columns
        (
            Case("no_class_column.csv", L, "no class column", "CSV without a class column"),
            b"lon,lat,cultura_x,date\n-55.8,-12.4,Forest,2019\n",
        ),
        (
            Case("no_date_column.geojson", L, "no date column", "GeoJSON without a date property"),
            _fc([_feat(_pt(-55.8, -12.4), **{"class": "Forest", "when": "2019"})]),
        ),
        (
            Case(
                "wrong_class_option.csv",
                L,
                "class column 'cultura' not found",
                "class_column option naming a missing column",
                options={"class_column": "cultura"},
            ),
            GOOD_CSV.encode(),
        ),
        (
            Case("no_coordinates.csv", L, "no coordinate columns", "CSV without lon/lat or WKT"),
            b"a,b,class,date\n-55.8,-12.4,Forest,2019\n",
        ),
        (
            Case(
                "no_geometry_layer.gpkg",
                L,
                "has no layer with geometries",
                "GeoPackage with an attribute table only",
            ),
            _attribute_only_gpkg(),
        ),
        # classes and dates
        (
            Case(
                "unknown_classes.csv",
                L,
                "unknown class 'Soja'",
                "classes outside the allowed list",
                options={"allowed_classes": ["Forest", "Soybean-maize", "Cotton-fallow"]},
            ),
            b"lon,lat,class,date\n-55.8,-12.4,Soja,2019\n-55.7,-12.35,Pasto,2019\n",
        ),
        (
            Case("empty_classes.csv", L, "empty class", "class cells left empty"),
            b"lon,lat,class,date\n-55.8,-12.4,,2019\n-55.7,-12.35, ,2019\n",
        ),
        (
            Case("bad_dates.csv", L, "does not parse", "dates in DD/MM/YYYY, words, and year 1850"),
            b"lon,lat,class,date\n-55.8,-12.4,Forest,15/07/2019\n-55.7,-12.35,Forest,yesterday\n-55.6,-12.3,Forest,1850\n",
        ),
        (
            Case("missing_dates.csv", L, "missing reference date", "date cells left empty in some rows"),
            b"lon,lat,class,date\n-55.8,-12.4,Forest,\n-55.7,-12.35,Forest, \n",
        ),
        # store coverage
        (
            Case(
                "outside_store.csv",
                L,
                "outside the ESD store's coverage",
                "labels in Europe, store in Mato Grosso",
                coverage_bbox=DEMO_BBOX,
            ),
            b"lon,lat,class,date\n11.5,48.1,Forest,2019\n2.35,48.85,Forest,2019\n",
        ),
        (
            Case(
                "aoi_no_coverage.geojson",
                A,
                "does not overlap the ESD store's coverage",
                "AOI in Europe",
                coverage_bbox=DEMO_BBOX,
            ),
            _fc([_feat(_box(11.4, 48.0, 11.6, 48.2), name="Munich")]),
        ),
    ]
    return cases


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    manifest = []
    for case, content in build():
        (OUT / case.file).write_bytes(content)
        manifest.append({k: v for k, v in case.__dict__.items()})
    doc = {
        "about": "Uploads that must be refused as a whole; see tests/data/make_bad_inputs.py (which writes them).",
        "cases": manifest,
    }
    (OUT / "manifest.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({"cases": len(manifest), "folder": str(OUT)}))


if __name__ == "__main__":
    main()
