"""Write the template files users download to prepare label and AOI uploads.

Run ``python -m monitoring.upload_templates [--out static/upload_templates]``; the output is
deterministic (fixed timestamps), and the generated files are committed. Coordinates lie in the
demo area (Mato Grosso, Brazil, lon -55.9..-55.6, lat -12.5..-12.3).
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import pyogrio
from shapely.geometry import Point, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "static" / "upload_templates"
FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
FIXED_OGR_DATE = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class TemplateLabel:
    """One example label of the templates."""

    geometry: BaseGeometry  # EPSG:4326
    klass: str  # class name
    date: str  # reference date, ISO


def _square(lon: float, lat: float, half: float = 0.0006) -> Polygon:
    """A small square (about 130 m across) around a point: a polygon label covering a few pixels."""
    return box(lon - half, lat - half, lon + half, lat + half)


POINT_LABELS = [
    TemplateLabel(Point(-55.8412, -12.4183), "Forest", "2019-07-15"),
    TemplateLabel(Point(-55.8127, -12.4471), "Forest", "2019-07-15"),
    TemplateLabel(Point(-55.7356, -12.3622), "Soybean-maize", "2020-01-20"),
    TemplateLabel(Point(-55.6918, -12.3395), "Soybean-maize", "2020-01-20"),
    TemplateLabel(Point(-55.6543, -12.4026), "Cotton-fallow", "2020-03-10"),
    TemplateLabel(Point(-55.6281, -12.4758), "Cotton-fallow", "2020-03-10"),
]
POLYGON_LABEL = TemplateLabel(_square(-55.8705, -12.3854), "Forest", "2019-07-15")
AOI_GEOMETRY = box(-55.9, -12.5, -55.6, -12.3)
AOI_NAME = "Demo AOI (Mato Grosso)"


def _round(geom: BaseGeometry) -> dict:
    """GeoJSON mapping with coordinates rounded to 6 decimals (about 0.1 m)."""
    return json.loads(json.dumps(mapping(geom)), parse_float=lambda s: round(float(s), 6))


def labels_geojson(labels: list[TemplateLabel]) -> str:
    features = [
        {
            "type": "Feature",
            "properties": {"class": lab.klass, "date": lab.date},
            "geometry": _round(lab.geometry),
        }
        for lab in labels
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1) + "\n"


def labels_csv(labels: list[TemplateLabel]) -> str:
    lines = ["lon,lat,class,date"]
    lines += [f"{lab.geometry.x:.6f},{lab.geometry.y:.6f},{lab.klass},{lab.date}" for lab in labels]
    return "\n".join(lines) + "\n"


def labels_wkt_csv(labels: list[TemplateLabel]) -> str:
    lines = ["wkt,class,date"]
    lines += [f'"{lab.geometry.wkt}",{lab.klass},{lab.date}' for lab in labels]
    return "\n".join(lines) + "\n"


def _kml_coords(coords: Iterable[Sequence[float]]) -> str:
    return " ".join(f"{x:.6f},{y:.6f}" for x, y in coords)


def labels_kml(labels: list[TemplateLabel]) -> str:
    placemarks = []
    for i, lab in enumerate(labels, start=1):
        if isinstance(lab.geometry, Point):
            shape = f"<Point><coordinates>{_kml_coords(lab.geometry.coords)}</coordinates></Point>"
        else:
            ring = _kml_coords(lab.geometry.exterior.coords)
            shape = (
                "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
                f"{ring}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
            )
        placemarks.append(
            f"    <Placemark>\n      <name>label {i}</name>\n      <ExtendedData>\n"
            f'        <Data name="class"><value>{escape(lab.klass)}</value></Data>\n'
            f'        <Data name="date"><value>{lab.date}</value></Data>\n'
            f"      </ExtendedData>\n      {shape}\n    </Placemark>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n'
        "  <Document>\n    <name>ESD Monitor label template</name>\n"
        + "\n".join(placemarks)
        + "\n  </Document>\n</kml>\n"
    )


def labels_frame(labels: list[TemplateLabel]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"class": [lab.klass for lab in labels], "date": [lab.date for lab in labels]},
        geometry=[lab.geometry for lab in labels],
        crs="EPSG:4326",
    )


def write_gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """A GeoPackage with a fixed timestamp so the bytes do not change between runs."""
    path.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_OGR_DATE})
    try:
        frame.to_file(path, layer=layer, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def shapefile_zip(frame: gpd.GeoDataFrame, stem: str, workdir: Path) -> bytes:
    """The .shp, .shx, .dbf, .prj and .cpg of ``frame`` zipped with fixed timestamps."""
    shp = workdir / f"{stem}.shp"
    frame.to_file(shp, driver="ESRI Shapefile", encoding="UTF-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            part = workdir / f"{stem}{ext}"
            if part.exists():
                info = zipfile.ZipInfo(f"{stem}{ext}", date_time=FIXED_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, part.read_bytes())
    return buf.getvalue()


def aoi_geojson() -> str:
    feature = {"type": "Feature", "properties": {"name": AOI_NAME}, "geometry": _round(AOI_GEOMETRY)}
    return json.dumps({"type": "FeatureCollection", "features": [feature]}, indent=1) + "\n"


def write_templates(out: Path) -> list[Path]:
    """Write every template into ``out``; returns the paths written."""
    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    mixed = [*POINT_LABELS, POLYGON_LABEL]
    texts = {
        "labels_template.geojson": labels_geojson(mixed),
        "labels_template.csv": labels_csv(POINT_LABELS),
        "labels_template_wkt.csv": labels_wkt_csv(mixed),
        "labels_template.kml": labels_kml(mixed),
        "aoi_template.geojson": aoi_geojson(),
    }
    written = []
    for name, text in texts.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    write_gpkg(labels_frame(POINT_LABELS), out / "labels_template.gpkg", layer="labels")
    written.append(out / "labels_template.gpkg")
    with tempfile.TemporaryDirectory() as tmp:
        data = shapefile_zip(labels_frame(POINT_LABELS), "labels_template", Path(tmp))
    (out / "labels_template_shapefile.zip").write_bytes(data)
    written.append(out / "labels_template_shapefile.zip")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    written = write_templates(args.out)
    print(json.dumps({"written": [str(p) for p in written]}, indent=1))


if __name__ == "__main__":
    main()
