"""Stand-alone HTML map of an analysis, made with ``leafmap.foliumap`` (headless folium; no server needed).

The file embeds everything of ours: the AOI outline, the dynamic samples of each year coloured by class,
and the land cover of the last year as a PNG image overlay (reprojected to Web Mercator, as a data URL).
Leaflet itself and the basemap tiles are referenced from their CDNs, which the user's browser fetches.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Final

import numpy as np
import rasterio
from django.conf import settings
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds
from rio_tiler.utils import render as render_array

from ml.mapping import NODATA_CLASS
from ml.maps import class_colormap, default_class_colors
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, MapProduct
from monitoring.services.pipeline.paths import analysis_dir

MAX_OVERLAY_PX: Final[int] = 2048  # longest side of the embedded land-cover image


def _class_colors(analysis: Analysis) -> dict[str, str]:
    classes = analysis.label_set.map_classes
    colors = [c.get("color") for c in classes]
    if not all(colors):
        colors = default_class_colors(len(classes))
    return {c["name"]: col for c, col in zip(classes, colors, strict=True)}


def landcover_overlay_png(path: Path, colors: list[str]) -> tuple[bytes, tuple[float, float, float, float]]:
    """The class COG at ``path`` as an RGBA PNG in Web Mercator, and its (west, south, east, north) bounds.

    Leaflet's image overlay stretches an image between two lon/lat corners on a Web Mercator map, so the
    raster is reprojected to EPSG:3857 first (nearest: class values stay classes); nodata is transparent.
    """
    with rasterio.open(path) as src:
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:3857", src.width, src.height, *src.bounds
        )
        scale = max(1.0, max(width, height) / MAX_OVERLAY_PX)
        width, height = max(1, int(width / scale)), max(1, int(height / scale))
        left, top = transform.c, transform.f
        right = left + transform.a * scale * width
        bottom = top + transform.e * scale * height
        dst_transform = rasterio.Affine(transform.a * scale, 0, left, 0, transform.e * scale, top)
        classes = np.full((height, width), NODATA_CLASS, dtype=np.uint8)
        reproject(
            rasterio.band(src, 1),
            classes,
            dst_transform=dst_transform,
            dst_crs="EPSG:3857",
            dst_nodata=NODATA_CLASS,
            resampling=Resampling.nearest,
        )
    cmap = class_colormap(colors)
    rgba = np.zeros((4, height, width), dtype=np.uint8)
    for value, color in cmap.items():
        sel = classes == value
        rgba[:, sel] = np.asarray(color, dtype=np.uint8)[:, None]
    png = render_array(rgba[:3], mask=rgba[3], img_format="PNG")
    return png, transform_bounds("EPSG:3857", "EPSG:4326", left, bottom, right, top)


def analysis_html_export(*, analysis: Analysis) -> str:
    """The HTML text of a stand-alone leafmap (folium) map of a finished analysis.

    Layers: the AOI, the land cover of the last year (image overlay) and one layer of dynamic samples
    per year (circles coloured by the dynamic class, popups with the static class and anomaly score; the
    last year shown). Raises :class:`ApplicationError` (404) until the analysis is done.
    """
    import folium
    import leafmap.foliumap as leafmap  # imported here: about 3 s, only for exports

    if analysis.status != Analysis.Status.DONE:
        raise ApplicationError(f"the analysis is {analysis.status}; export it once it is done", status=404)
    colors = _class_colors(analysis)
    west, south, east, north = analysis.aoi.geometry.extent
    m = leafmap.Map(
        center=((south + north) / 2, (west + east) / 2),
        zoom=12,
        draw_control=False,
        measure_control=False,
        locate_control=False,
        latlon_control=False,
    )
    last = analysis.end_year
    product = MapProduct.objects.filter(analysis=analysis, kind=MapProduct.Kind.LANDCOVER, year=last).first()
    if product is not None:
        path = Path(settings.MEDIA_ROOT) / product.path
        png, (w, s, e, n) = landcover_overlay_png(path, list(colors.values()))
        folium.raster_layers.ImageOverlay(
            image="data:image/png;base64," + base64.b64encode(png).decode(),
            bounds=[[s, w], [n, e]],
            opacity=0.75,
            name=f"Land cover {last}",
        ).add_to(m)
    folium.GeoJson(
        json.loads(analysis.aoi.geometry.geojson),
        name="AOI",
        style_function=lambda _f: {"color": "#222222", "weight": 2, "fill": False},
    ).add_to(m)
    samples = _samples_by_year(analysis)
    for year in sorted(samples):
        features = samples[year]
        for f in features:
            f["properties"]["color"] = colors.get(f["properties"].get("dynamic_class"), "#888888")
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=f"Dynamic samples {year}",
            show=year == last,
            marker=folium.CircleMarker(radius=5, weight=1, fill=True, fill_opacity=0.9),
            style_function=lambda f: {"fillColor": f["properties"]["color"], "color": "#000000"},
            popup=folium.GeoJsonPopup(
                fields=["row", "year", "static_class", "dynamic_class", "changed", "anomaly_score"]
            ),
        ).add_to(m)
    m.add_legend(title="Classes", legend_dict={k: v.lstrip("#") for k, v in colors.items()})
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    return m.get_root().render()


def _samples_by_year(analysis: Analysis) -> dict[int, list[dict[str, Any]]]:
    path = analysis_dir(analysis.pk) / "samples.geojson"
    if not path.is_file():
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    for f in json.loads(path.read_text())["features"]:
        out.setdefault(int(f["properties"]["year"]), []).append(f)
    return out
