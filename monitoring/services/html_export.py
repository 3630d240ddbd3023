"""Stand-alone HTML map of an analysis: one file that works offline, with nothing fetched from a network.

Leaflet (the copy django-leaflet ships, its CSS images as data URLs) and our small viewer script are
inlined; the layers are data in the page: the land cover of every year as a PNG image overlay
(reprojected to Web Mercator, as data URLs), the change maps (year of last change, number of changes,
from -> to) the same way with their legends, the AOI outline and the dynamic samples of every year as
GeoJSON, and the class legend. A year slider switches the land cover and the samples together. An
OpenStreetMap background can be switched on when the file is opened on a machine that reaches it
(off by default, so the page makes no request by itself).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import rasterio
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds
from rio_tiler.utils import render as render_array

from ml.colormaps import class_colormap, default_class_colors
from ml.map_package import product_categories
from ml.mapping import NODATA_CLASS
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, MapProduct
from monitoring.services.map_packages import product_colormap
from monitoring.storage.paths import analysis_dir, media_file

MAX_OVERLAY_PX: Final[int] = 2048  # longest side of one embedded land-cover image
MAX_OVERLAY_BYTES: Final[int] = 40_000_000  # all years together; images shrink to stay under it
SAMPLE_FIELDS: Final[tuple[str, ...]] = (
    "row",
    "year",
    "static_class",
    "dynamic_class",
    "changed",
    "anomaly_score",
)


def _class_colors(analysis: Analysis) -> dict[str, str]:
    classes = analysis.label_set.map_classes
    colors: list[str | None] = [c.get("color") for c in classes]
    if not all(colors):
        colors = list(default_class_colors(len(classes)))
    return {c["name"]: cast(str, col) for c, col in zip(classes, colors, strict=True)}  # all set


def overlay_png(
    path: Path, colormap: Mapping[int, Sequence[int]], max_px: int = MAX_OVERLAY_PX
) -> tuple[bytes, tuple[float, float, float, float]]:
    """A categorical COG at ``path`` as an RGBA PNG in Web Mercator, and its (west, south, east, north).

    Leaflet's image overlay stretches an image between two lon/lat corners on a Web Mercator map, so the
    raster is reprojected to EPSG:3857 first (nearest: class values stay classes). Pixels get the
    ``colormap`` colour of their value; nodata and values without a colour are transparent.
    """
    with rasterio.open(path) as src:
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:3857", src.width, src.height, *src.bounds
        )
        scale = max(1.0, max(width, height) / max_px)
        width, height = max(1, int(width / scale)), max(1, int(height / scale))
        left, top = transform.c, transform.f
        right = left + transform.a * scale * width
        bottom = top + transform.e * scale * height
        dst_transform = rasterio.Affine(transform.a * scale, 0, left, 0, transform.e * scale, top)
        nodata = int(src.nodata) if src.nodata is not None else NODATA_CLASS
        values = np.full((height, width), nodata, dtype=src.dtypes[0])
        reproject(
            rasterio.band(src, 1),
            values,
            dst_transform=dst_transform,
            dst_crs="EPSG:3857",
            dst_nodata=nodata,
            resampling=Resampling.nearest,
        )
    lut = np.zeros((int(np.iinfo(values.dtype).max) + 1, 4), dtype=np.uint8)  # value -> RGBA
    for value, color in colormap.items():
        if 0 <= int(value) < lut.shape[0]:
            lut[int(value)] = [*(int(c) for c in color[:3]), int(color[3]) if len(color) > 3 else 255]
    lut[nodata] = 0
    rgba = np.moveaxis(lut[values], -1, 0)  # (4, H, W)
    png = render_array(rgba[:3], mask=rgba[3], img_format="PNG")
    return png, transform_bounds("EPSG:3857", "EPSG:4326", left, bottom, right, top)


def landcover_overlay_png(
    path: Path, colors: list[str], max_px: int = MAX_OVERLAY_PX
) -> tuple[bytes, tuple[float, float, float, float]]:
    """The land-cover COG at ``path`` (class index per pixel) as a Web Mercator PNG in the class colours."""
    return overlay_png(path, class_colormap(colors), max_px)


def _static_text(name: str) -> str:
    path = finders.find(name)
    if not path:
        raise ApplicationError(f"static file {name} is missing: the HTML export cannot be built", status=500)
    return Path(path).read_text(encoding="utf-8")


def _data_url(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def leaflet_css() -> str:
    """Leaflet's CSS with the images it names (layer control icons, markers) inlined as data URLs."""
    css = _static_text("leaflet/leaflet.css")
    folder = Path(finders.find("leaflet/leaflet.css") or ".").parent

    def inline(m: re.Match[str]) -> str:
        image = folder / m.group(1)
        return f"url({_data_url(image)})" if image.is_file() else m.group(0)

    return re.sub(r"url\((images/[\w@.-]+\.png)\)", inline, css)


def _script_text(name: str) -> str:
    """A script to inline: no source-map request, no ``</script>`` that would end the element."""
    text = re.sub(r"^//# sourceMappingURL=.*$", "", _static_text(name), flags=re.MULTILINE)
    return text.replace("</script", "<\\/script")


def _json_for_script(data: Any) -> str:
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def _landcover_layers(analysis: Analysis, colors: list[str]) -> list[dict[str, Any]]:
    products = MapProduct.objects.filter(analysis=analysis, kind=MapProduct.Kind.LANDCOVER).order_by("year")
    found = [(p.year, media_file(p.path)) for p in products]
    paths = [(y, p) for y, p in found if p is not None]
    max_px = MAX_OVERLAY_PX
    while True:
        layers, size = [], 0
        for year, path in paths:
            png, (w, s, e, n) = landcover_overlay_png(path, colors, max_px)
            size += len(png)
            layers.append(
                {
                    "year": year,
                    "url": "data:image/png;base64," + base64.b64encode(png).decode(),
                    "bounds": [[s, w], [n, e]],
                }
            )
        if size <= MAX_OVERLAY_BYTES or max_px <= 256:
            return layers
        max_px //= 2


CHANGE_LAYERS: Final[dict[str, str]] = {
    MapProduct.Kind.CHANGE_LAST_YEAR: "Year of last change",
    MapProduct.Kind.CHANGE_COUNT: "Number of changes",
    MapProduct.Kind.CHANGE_FROM_TO: "From → to",
}


def _change_layers(analysis: Analysis, max_px: int) -> list[dict[str, Any]]:
    """The multi-year change maps as overlays, each with the legend of the values it shows."""
    out = []
    names = analysis.label_set.map_class_names
    for product in MapProduct.objects.filter(analysis=analysis, kind__in=list(CHANGE_LAYERS)).order_by(
        "kind"
    ):
        path = media_file(product.path)
        if path is None:
            continue
        colormap = product_colormap(product, path)
        if colormap is None:
            continue
        with rasterio.open(path) as src:
            present = set(np.unique(src.read(1)).tolist())
        legend = [
            {"name": c.name, "color": c.hex}
            for c in product_categories(product.kind, names, colormap, analysis.years)
            if c.value in present and c.color[3] > 0
        ]
        png, (w, s, e, n) = overlay_png(path, colormap, max_px)
        name = CHANGE_LAYERS[product.kind]
        if product.kind == MapProduct.Kind.CHANGE_FROM_TO:
            name = f"{name} {product.year}→{product.year_to}"
        out.append(
            {
                "name": name,
                "url": "data:image/png;base64," + base64.b64encode(png).decode(),
                "bounds": [[s, w], [n, e]],
                "legend": legend,
            }
        )
    return out


def _samples_by_year(analysis: Analysis) -> dict[int, list[dict[str, Any]]]:
    path = analysis_dir(analysis.pk) / "samples.geojson"
    if not path.is_file():
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    for f in json.loads(path.read_text())["features"]:
        props = {k: f["properties"].get(k) for k in SAMPLE_FIELDS}
        out.setdefault(int(props["year"]), []).append(
            {"type": "Feature", "geometry": f["geometry"], "properties": props}
        )
    return out


def analysis_html_export(*, analysis: Analysis) -> str:
    """The HTML text of a stand-alone, offline map of a finished analysis.

    Layers: the land cover of each year (image overlays, the last year shown), the change maps (year
    of last change, number of changes, from -> to; one at a time instead of the land cover), the dynamic samples of
    each year (circles in the dynamic class's colour, ringed black when changed; popups with the static
    class and anomaly score), the AOI outline, and the legend. Raises :class:`ApplicationError` (404)
    until the analysis is done.
    """
    if analysis.status != Analysis.Status.DONE:
        raise ApplicationError(f"the analysis is {analysis.status}; export it once it is done", status=404)
    colors = _class_colors(analysis)
    west, south, east, north = analysis.aoi.geometry.extent
    samples = _samples_by_year(analysis)
    data = {
        "title": analysis.name or f"Analysis {analysis.pk}",
        "years": analysis.years,
        "bounds": [[south, west], [north, east]],
        "classes": [{"name": k, "color": v} for k, v in colors.items()],
        "landcover": _landcover_layers(analysis, list(colors.values())),
        "maps": _change_layers(analysis, MAX_OVERLAY_PX),
        "samples": {str(y): {"type": "FeatureCollection", "features": f} for y, f in sorted(samples.items())},
        "aoi": json.loads(analysis.aoi.geometry.geojson),
        "aoi_name": analysis.aoi.name,
    }
    return render_to_string(
        "monitoring/export_map.html",
        {
            "title": data["title"],
            "leaflet_css": leaflet_css(),
            "leaflet_js": _script_text("leaflet/leaflet.js"),
            "viewer_js": _script_text("js/export_map.js"),
            "data_json": _json_for_script(data),
            "years": analysis.years,
            "classes": data["classes"],
            "maps": data["maps"],
        },
    )
