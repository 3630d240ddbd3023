"""Pixel query: per-year ESD embedding, decoded reflectance (when the store's decoder is known), class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from django.conf import settings
from rasterio.warp import transform as warp_transform

from ml.errors import MLError
from ml.esd.store import EsdStore
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, DynamicSample, MapProduct
from monitoring.selectors.esd_catalog import esd_store_for_points


def _value_at(path: Path, lon: float, lat: float) -> float | None:
    """The COG's value at a lon/lat; None outside the raster, at its nodata value or NaN."""
    with rasterio.open(path) as src:
        xs, ys = warp_transform("EPSG:4326", src.crs, [lon], [lat])
        row, col = src.index(xs[0], ys[0])
        if not (0 <= row < src.height and 0 <= col < src.width):
            return None
        value = float(src.read(1, window=((row, row + 1), (col, col + 1)))[0, 0])
        if np.isnan(value) or (src.nodata is not None and value == float(src.nodata)):
            return None
        return value


def pixel_report(*, analysis: Analysis, lon: float, lat: float) -> dict[str, Any]:
    """``{"lon", "lat", "years": [{"year", "valid", "embedding" (12 x 6), "mean_code", "class", "uncertainty",
    "reflectance"}]}``; ``class`` is the consistent map's, ``uncertainty`` its normalised entropy (0..1)."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ApplicationError("lon must be in [-180, 180] and lat in [-90, 90]")
    years = analysis.years
    store = esd_store_for_points(lon=[lon], lat=[lat], years=years)
    try:
        points = store.read_points([lon], [lat], years)
    except MLError as exc:
        raise ApplicationError(f"no ESD data at ({lon:.5f}, {lat:.5f}): {exc}", status=404) from exc
    decoded = _decode(store, points.indices[0])
    names = analysis.label_set.map_class_names
    products = {
        (p.kind, p.year): p
        for p in MapProduct.objects.filter(
            analysis=analysis, kind__in=[MapProduct.Kind.LANDCOVER, MapProduct.Kind.UNCERTAINTY]
        )
    }
    media = Path(settings.MEDIA_ROOT)
    out = []
    for j, year in enumerate(years):
        entry: dict[str, Any] = {"year": year, "valid": bool(points.valid[0, j])}
        if points.valid[0, j]:
            emb = points.embeddings[0, j]
            entry["embedding"] = np.round(emb, 3).tolist()
            entry["mean_code"] = np.round(emb.mean(axis=0), 4).tolist()
            entry["qa"] = int(points.qa[0, j])
            if decoded is not None:
                entry["reflectance"] = np.round(decoded["values"][j], 4).tolist()
        product = products.get((MapProduct.Kind.LANDCOVER, year))
        value = _value_at(media / product.path, lon, lat) if product else None
        cls = int(value) if value is not None else None
        entry["class"] = names[cls] if cls is not None and cls < len(names) else None
        product = products.get((MapProduct.Kind.UNCERTAINTY, year))
        unc = _value_at(media / product.path, lon, lat) if product else None
        entry["uncertainty"] = round(unc, 3) if unc is not None else None  # 0 sure .. 1 all classes equal
        out.append(entry)
    return {
        "lon": lon,
        "lat": lat,
        "bands": decoded["bands"] if decoded else None,
        "years": out,
        "samples": pixel_samples(analysis=analysis, lon=lon, lat=lat),
    }


def pixel_samples(*, analysis: Analysis, lon: float, lat: float) -> list[dict[str, Any]]:
    """The dynamic samples of the label nearest the click within one pixel, one per year: class, why
    it is in the review queue, the reviewer's answer, and what drove a change (top bands and months)."""
    from django.contrib.gis.geos import Point

    grid = (analysis.stats or {}).get("grid", {})
    resolution = float(grid.get("resolution") or 250.0)
    geographic = any(t in str(grid.get("crs", "")) for t in ("longlat", "4326"))
    # one pixel, in degrees of longitude (the grid's resolution is in metres unless it is lon/lat)
    degrees = resolution if geographic else resolution / 111_320 / max(float(np.cos(np.radians(lat))), 0.2)
    here = Point(lon, lat, srid=4326)
    near = (
        DynamicSample.objects.filter(analysis=analysis, geometry__dwithin=(here, degrees))
        .select_related("label")
        .order_by("year")
    )
    rows = list(near)
    if not rows:
        return []
    label = min({r.label_id: r for r in rows}.values(), key=lambda r: r.geometry.distance(here)).label_id
    out = []
    for r in rows:
        if r.label_id != label:
            continue
        att = r.attribution or {}
        out.append(
            {
                "label": r.label_id,
                "row": r.label.row,
                "year": r.year,
                "static_class": r.static_class,
                "dynamic_class": r.dynamic_class,
                "review_reason": r.review_reason,
                "answer": str((r.label.corrected_class or {}).get(str(r.year), "")),
                "top_bands": att.get("top_bands", []),
                "top_months": att.get("top_months", []),
            }
        )
    return out


def _decode(store: EsdStore, indices: np.ndarray) -> dict[str, Any] | None:
    """Decode ``(Y, 12)`` indices with the ESDNet decoder of the store's tiles, when one is registered."""
    from monitoring.selectors.decoders import decoder_for_tiles

    decoder = decoder_for_tiles(store.tiles)
    if decoder is None:
        return None
    model, bands = decoder
    from ml.esd.model import decode_indices

    values = decode_indices(model, indices.astype(np.uint16))  # (Y, 12, B)
    return {"bands": list(bands), "values": values}
