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
    from ml.errors import MLError
    from ml.esd.model import load_model

    try:
        model, meta = load_model(tuple(model_ref.split(",")))
    except MLError:  # no shipped decoder for that band set: the chart shows the codes
        return None
    return model, tuple(meta.get("bands", model_ref.split(",")))


@lru_cache(maxsize=1024)
def _tags(uri: str, fingerprint: str) -> dict[str, str]:
    try:
        with gdal_env(), rasterio.open(gdal_path(uri)) as src:
            return dict(src.tags())
    except rasterio.errors.RasterioIOError:
        return {}


def tile_tag(tile: EsdTileInfo, name: str) -> str | None:
    """A metadata tag of a tile (cached per file version)."""
    return _tags(tile.uri, tile.fingerprint).get(name)


def decoder_for_tiles(tiles: Sequence[EsdTileInfo]) -> tuple[Any, tuple[str, ...]] | None:
    """(model, band names) for the first encoded tile that names its encoder in its tags, else None."""
    for tile in tiles:
        if tile.source != "encoded":
            continue
        ref = tile_tag(tile, MODEL_TAG)
        if ref:
            return _load(ref)
    return None
