"""Training sets of ESDNet: monthly composites of sample files and demo rasters, split by location.

Shared by training (:mod:`ml.esd.train`) and evaluation (:mod:`ml.esd.evaluate`), which must hold out
exactly the same locations.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.errors import ModelError
from ml.esd.composite import composite_samples, composite_years
from ml.esd.rasters import DEMO_SOURCES, read_demo
from ml.samples import load_samples, location_holdout


@dataclass(frozen=True)
class TrainingSet:
    """Monthly composites of every source, with labels and the location split."""

    values: np.ndarray  # (N, 12, B) float32 physical values, gap-filled
    valid: np.ndarray  # (N, 12) bool months with >= 1 clear observation
    label: np.ndarray  # (N,) str class name, "" for unlabelled rows (raster pixels)
    is_test: np.ndarray  # (N,) bool held-out locations

    def __len__(self) -> int:
        return int(self.values.shape[0])


def _select(bands_have: tuple[str, ...], bands: tuple[str, ...], source: str) -> list[int]:
    alias = {"swir1": "mir", "mir": "swir1"}  # MODIS MIR (band 7, 2.1 um) ~ Landsat SWIR
    idx = []
    for b in bands:
        if b in bands_have:
            idx.append(bands_have.index(b))
        elif alias.get(b) in bands_have:
            idx.append(bands_have.index(alias[b]))
        else:
            raise ModelError(f"{source}: band {b!r} not among {list(bands_have)}")
    return idx


def samples_training_set(
    path: str | Path, bands: tuple[str, ...], test_fraction: float, seed: int
) -> TrainingSet:
    """Composites of a sample ``.npz`` (rows start at their crop-year month), split by location hash."""
    s = load_samples(path)
    s = s.select_bands([s.bands[i] for i in _select(s.bands, bands, str(path))])
    comp = composite_samples(s)
    return TrainingSet(
        comp.values, comp.valid, s.label.astype(str), location_holdout(s.lon, s.lat, test_fraction, seed)
    )


def raster_training_set(
    name: str, bands: tuple[str, ...], test_fraction: float, seed: int, block: int
) -> TrainingSet:
    """Composites of every pixel-year of a demo raster, split by hashed ``block x block`` pixel blocks.

    ``block`` shrinks to a quarter of the raster's shorter side when that is smaller (Sinop: 2 x 2).
    """
    r = read_demo(name)
    src = DEMO_SOURCES[name]
    values, clear = r.pixels()
    values = values[:, :, _select(r.bands, bands, name)]
    h, w = r.shape
    block = max(1, min(block, min(h, w) // 4))  # small rasters (Sinop 11 x 14) get >= 16 blocks
    rows, cols = np.divmod(np.arange(h * w), w)
    held = location_holdout(
        (cols // block) * 1e-3 + 1.0,
        (rows // block) * 1e-3 + zlib.crc32(name.encode()) % 97,
        test_fraction,
        seed,
    )
    parts = []
    for comp in composite_years(values, r.dates, src.years, clear, src.start_month).values():
        keep = comp.has_data
        parts.append((comp.values[keep], comp.valid[keep], held[keep]))
    v, m, t = (np.concatenate(x) for x in zip(*parts, strict=True))
    return TrainingSet(v, m, np.full(len(v), "", dtype=object).astype(str), t)


def concat(sets: list[TrainingSet]) -> TrainingSet:
    """One training set from several."""
    return TrainingSet(
        np.concatenate([s.values for s in sets]),
        np.concatenate([s.valid for s in sets]),
        np.concatenate([s.label.astype(str) for s in sets]),
        np.concatenate([s.is_test for s in sets]),
    )
