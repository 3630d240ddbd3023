"""Which ESDNet decoder turns a store's indices back into reflectance (our encoded tiles only)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import rasterio

from ml.esd.tiles import EsdTileInfo, gdal_env, gdal_path

MODEL_TAG = "ESD_MODEL"  # tile tag naming the band set / checkpoint that encoded it


@lru_cache(maxsize=16)
def _load(model_ref: str) -> tuple[Any, tuple[str, ...]] | None:
    from ml.esd.model import load_model

    try:
        model, meta = load_model(tuple(model_ref.split(",")))
    except Exception:  # noqa: BLE001 - unknown band set: no decoder, the chart shows codes
        return None
    return model, tuple(meta.get("bands", model_ref.split(",")))


def decoder_for_tiles(tiles: Sequence[EsdTileInfo]) -> tuple[Any, tuple[str, ...]] | None:
    """(model, band names) for the first encoded tile that names its encoder in its tags, else None."""
    for tile in tiles:
        if tile.source != "encoded":
            continue
        try:
            with gdal_env(), rasterio.open(gdal_path(tile.uri)) as src:
                ref = src.tags().get(MODEL_TAG) or src.tags().get("ESD_BANDS")
        except rasterio.errors.RasterioIOError:
            continue
        if ref:
            return _load(ref)
    return None
