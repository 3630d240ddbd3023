"""Map downloads that describe themselves: one zip per product and CRS choice.

The zip holds the COG (reprojected on request), its GDAL ``.aux.xml`` (class names and attribute table,
read by ``gdalinfo`` and QGIS), a QGIS ``.qml`` style and the code table as CSV (see
:mod:`ml.map_package`). Zips are built on first request into ``<analysis>/packages/`` under a
deterministic name and reused; building is atomic, so two requests at once cannot leave a half file.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Final

import rasterio
from rasterio.crs import CRS

from ml.atomic import atomic_path
from ml.colormaps import named_colormap
from ml.errors import MLError
from ml.map_package import codes_csv, export_cog, pam_xml, product_categories, qml_style, utm_crs
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, MapProduct
from monitoring.storage.paths import analysis_dir, media_file

CRS_CHOICES: Final[tuple[str, ...]] = ("native", "EPSG:4326", "utm")
"""``native``: the analysis grid's CRS (the store's); ``EPSG:4326``: WGS 84 lon/lat; ``utm``: the WGS 84
UTM zone of the AOI's centre."""


def target_crs(analysis: Analysis, choice: str) -> CRS | None:
    """The CRS a package is reprojected to (None: keep the product's own)."""
    if choice == "native":
        return None
    if choice == "EPSG:4326":
        return CRS.from_epsg(4326)
    if choice == "utm":
        centre = analysis.aoi.geometry.centroid
        return utm_crs(centre.x, centre.y)
    raise ApplicationError(f"crs must be one of {', '.join(CRS_CHOICES)}, got {choice!r}")


def product_colormap(product: MapProduct, path: Path) -> dict[int, tuple[int, int, int, int]] | None:
    """The colours of a product: the file's colour table, else its named server-side colour map (the
    change products are written without one), else None (continuous products keep none)."""
    with rasterio.open(path) as src:
        try:
            table = src.colormap(1)
        except ValueError:
            table = None
        dtype = src.dtypes[0]
    if table is None and product.colormap and dtype in ("uint8", "uint16"):
        classes = product.analysis.label_set.map_classes
        try:
            table = named_colormap(
                product.colormap,
                colors=[c["color"] for c in classes],
                class_names=[c["name"] for c in classes],
                years=product.analysis.years,
            )
        except MLError:
            table = None
    if table is None:
        return None
    return {
        int(k): (int(v[0]), int(v[1]), int(v[2]), int(v[3]) if len(v) > 3 else 255) for k, v in table.items()
    }


def _readme(product: MapProduct, crs: str, has_classes: bool) -> str:
    lines = [
        f"ESD Monitor map: {product.get_kind_display()} of analysis {product.analysis_id}"
        + (f", {product.year}" if product.year else "")
        + (f" -> {product.year_to}" if product.year_to else ""),
        f"CRS: {crs}",
        "",
        "The .tif is a Cloud-Optimized GeoTIFF with its colour table.",
    ]
    if has_classes:
        lines += [
            "Keep the .tif.aux.xml beside it: it holds the class names and the raster attribute table",
            "(gdalinfo lists them under 'Categories'; QGIS reads them). Open the .qml in QGIS",
            "(Layer Properties > Style > Load Style) for the labelled legend; codes.csv lists every value.",
        ]
    return "\n".join(lines) + "\n"


def product_package(*, product: MapProduct, crs: str = "native") -> Path:
    """Path of the zip of ``product`` in the CRS choice ``crs`` (built on first call)."""
    analysis = product.analysis
    dst_crs = target_crs(analysis, crs)
    source = media_file(product.path)
    if source is None:
        raise ApplicationError("the map file is missing", status=404)
    folder = analysis_dir(analysis.pk) / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    tag = "native" if dst_crs is None else (f"epsg{dst_crs.to_epsg()}")
    stem = source.stem if dst_crs is None else f"{source.stem}_{tag}"
    target = folder / f"{stem}.zip"
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    colormap = product_colormap(product, source)
    categories = product_categories(
        product.kind, analysis.label_set.map_class_names, colormap or {}, analysis.years
    )
    change = product.kind == MapProduct.Kind.CHANGE_FROM_TO
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        tif = export_cog(source, Path(tmp) / f"{stem}.tif", dst_crs, colormap=colormap)
        with rasterio.open(tif) as out:
            crs_text = out.crs.to_string() if out.crs else "none"
        with (
            atomic_path(target, suffix=".zip") as tmp_zip,
            zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        ):
            zf.write(tif, f"{stem}.tif")
            if categories:
                zf.writestr(f"{stem}.tif.aux.xml", pam_xml(categories, with_change_columns=change))
                zf.writestr(f"{stem}.qml", qml_style(categories))
                zf.writestr(f"{stem}_codes.csv", codes_csv(categories, with_change_columns=change))
            zf.writestr("README.txt", _readme(product, crs_text, bool(categories)))
    return target
