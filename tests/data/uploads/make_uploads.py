"""(Re)create the good upload samples of every format from the real dtwSat Mato Grosso labels.

Source: ``../shared/data/rasters/modis_matogrosso_dtwsat/lucc_MT_2007_2013/samples_MT.shp`` (603 labelled
points, EPSG:4326, r-spatial/dtwSat, GPL-3). Every 10th point is kept (61 labels, 5 classes); some files
are written in UTM 21S (EPSG:32721) to prove reprojection. Run from the repo root:
``.venv/bin/python -m tests.data.uploads.make_uploads``; the output is deterministic.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Polygon, box, mapping

from monitoring.upload_templates import TemplateLabel, labels_kml, shapefile_zip, write_gpkg

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SHARED = Path(os.environ.get("ESD_SHARED_DATA", REPO / ".." / "shared" / "data"))
SAMPLES_MT = SHARED / "rasters" / "modis_matogrosso_dtwsat" / "lucc_MT_2007_2013" / "samples_MT.shp"
UTM21S = "EPSG:32721"
AOI_BOX = (-56.0, -12.05, -55.9, -11.98)  # lon/lat box around the labels (about 11 x 8 km)


def load_subset() -> gpd.GeoDataFrame:
    """Every 10th real label: columns group (class), from (crop-year start, ISO date), geometry."""
    frame = gpd.read_file(SAMPLES_MT)
    return frame.iloc[::10][["group", "from", "geometry"]].reset_index(drop=True)


def _geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> str:
    features = [
        {
            "type": "Feature",
            "properties": {c: row[c] for c in columns},
            "geometry": json.loads(
                json.dumps(mapping(row.geometry)), parse_float=lambda s: round(float(s), 7)
            ),
        }
        for _, row in frame.iterrows()
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=0) + "\n"


def main() -> None:
    sub = load_subset()
    utm = sub.to_crs(UTM21S)
    # GeoJSON, EPSG:4326, default column names of dtwSat (group, from)
    (HERE / "labels_mt.geojson").write_text(_geojson(sub, ["group", "from"]), encoding="utf-8")
    # CSV lon/lat with other default names: longitude, latitude, landcover, year
    csv = pd.DataFrame(
        {
            "longitude": sub.geometry.x.round(7),
            "latitude": sub.geometry.y.round(7),
            "landcover": sub["group"],
            "year": sub["from"].str[:4],
        }
    )
    csv.to_csv(HERE / "labels_mt.csv", index=False, lineterminator="\n")
    # CSV as saved by a European Excel: semicolons, decimal commas, custom column names, BOM
    custom = pd.DataFrame(
        {
            "x_coord": sub.geometry.x.map(lambda v: f"{v:.7f}".replace(".", ",")),
            "y_coord": sub.geometry.y.map(lambda v: f"{v:.7f}".replace(".", ",")),
            "cultura": sub["group"],
            "data_ref": sub["from"].str[:7],
        }
    )
    text = custom.to_csv(index=False, sep=";", lineterminator="\n")
    (HERE / "labels_mt_custom_columns.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    # WKT CSV in UTM 21S (needs the crs option): 90 m squares around the points
    squares = utm.geometry.buffer(45, cap_style="square")
    wkt = pd.DataFrame(
        {"wkt": squares.to_wkt(rounding_precision=2), "class": sub["group"], "date": sub["from"]}
    )
    wkt.to_csv(HERE / "labels_mt_utm21s_wkt.csv", index=False, lineterminator="\n")
    # GeoPackage in UTM 21S, with a second layer to test the layer option
    gpkg = utm.rename(columns={"group": "class", "from": "date"})
    write_gpkg(gpkg, HERE / "labels_mt_utm21s.gpkg", layer="labels")
    first_five = gpkg.iloc[:5]
    _append_gpkg_layer(first_five, HERE / "labels_mt_utm21s.gpkg", layer="labels_first_five")
    # zipped Shapefile in UTM 21S
    with tempfile.TemporaryDirectory() as tmp:
        (HERE / "labels_mt_utm21s_shapefile.zip").write_bytes(shapefile_zip(utm, "labels_mt", Path(tmp)))
    # KML (always EPSG:4326)
    kml_labels = [
        TemplateLabel(g, c, d) for g, c, d in zip(sub.geometry, sub["group"], sub["from"], strict=True)
    ]
    (HERE / "labels_mt.kml").write_text(labels_kml(kml_labels), encoding="utf-8")
    # polygon labels: two squares and one self-intersecting "bow tie" (repaired on upload)
    polys = gpd.GeoDataFrame(
        {"class": ["Forest", "Soybean-maize", "Cotton-fallow"], "date": ["2011-09-01", "2012", "2011-09"]},
        geometry=[
            box(-55.9890, -12.0372, -55.9870, -12.0352),
            box(-55.9500, -12.0100, -55.9480, -12.0080),
            Polygon([(-55.930, -12.000), (-55.928, -11.998), (-55.928, -12.000), (-55.930, -11.998)]),
        ],
        crs="EPSG:4326",
    )
    (HERE / "labels_polygons.geojson").write_text(_geojson(polys, ["class", "date"]), encoding="utf-8")
    # AOIs
    aoi = gpd.GeoDataFrame({"name": ["dtwSat Mato Grosso"]}, geometry=[box(*AOI_BOX)], crs="EPSG:4326")
    (HERE / "aoi_mt.geojson").write_text(_geojson(aoi, ["name"]), encoding="utf-8")
    write_gpkg(aoi.to_crs(UTM21S), HERE / "aoi_mt_utm21s.gpkg", layer="aoi")
    with tempfile.TemporaryDirectory() as tmp:
        (HERE / "aoi_mt_utm21s_shapefile.zip").write_bytes(
            shapefile_zip(aoi.to_crs(UTM21S), "aoi_mt", Path(tmp))
        )


def _append_gpkg_layer(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    import pyogrio

    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00Z"})
    try:
        frame.to_file(path, layer=layer, driver="GPKG", mode="a")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


if __name__ == "__main__":
    main()
