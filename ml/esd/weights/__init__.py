"""Shipped ESDNet checkpoints (small ``.pt`` files beside this module), keyed by band set.

See ``docs/model_card_esdnet.md`` for the data, command, epochs, time and metrics of each.
"""

from __future__ import annotations

from pathlib import Path

from ml.errors import ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent

# band set -> checkpoint file; the first entry whose bands a data set has is used.
SHIPPED: dict[tuple[str, ...], str] = {
    ("blue", "red", "nir", "mir"): "esdnet_modis4.pt",  # MODIS MOD13Q1 reflectance (Mato Grosso, Cerrado)
    ("blue", "green", "red", "nir", "swir1", "swir2"): "esdnet_landsat6.pt",  # Landsat TM/ETM+ 6 bands
    ("red", "nir", "swir1"): "esdnet_landsat3.pt",  # Landsat TM/ETM+ red, NIR, SWIR1 (Colorado)
    ("ndvi",): "esdnet_ndvi.pt",  # a single NDVI index (MODIS samples, Sinop, Sentinel-2 Slovenia)
}


def weights_for_bands(bands: tuple[str, ...]) -> Path:
    """Path of the shipped checkpoint for a data set with ``bands`` (extra bands are ignored)."""
    have = {b.lower() for b in bands}
    for need, name in SHIPPED.items():
        if set(need) <= have:
            path = WEIGHTS_DIR / name
            if not path.is_file():
                raise ModelError(f"{path}: shipped checkpoint for bands {need} is missing")
            return path
    raise ModelError(f"no shipped ESDNet model for bands {list(bands)}; known band sets: {list(SHIPPED)}")
