"""Side task of the change stage: the similarity and ESD preview COGs, from the lookup windows alone.

They depend on the embeddings, not on the classes, so they are written as soon as the windows are
looked up (beside relabel and the classify windows), once per lookup key, and linked into each
analysis that shares that key.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from ml.atomic import atomic_path
from ml.cog import write_rgb_cog, write_value_cog
from ml.products import ProductFile, product_filename
from monitoring.services.pipeline import state, timing
from monitoring.services.pipeline.change import record_products
from monitoring.services.pipeline.mosaic import mosaic_part, year_parts
from monitoring.services.pipeline.steps import STEP as STEPS
from monitoring.services.pipeline.steps import Part
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import analysis_dir, cache_dir


def _linked(cache: Path, out: Path, name: str) -> Path:
    """``out/name`` as a hard link to ``cache/name`` (a copy across file systems), replaced atomically."""
    with atomic_path(out / name, suffix=".link") as tmp:
        try:
            os.link(cache / name, tmp)
        except OSError:
            shutil.copyfile(cache / name, tmp)
    return out / name


def write_esd_products(analysis_id: int) -> bool:
    """Write the similarity and ESD preview COGs from the lookup windows; True once they are written.

    They depend on the lookup alone, so they are written once per lookup key under
    ``cache/esd_products/<lookup key>/`` and hard-linked into the analysis folder: a re-run with the
    same AOI, years and store (e.g. *Apply reviews*) links them instead of mosaicking and writing again.
    """
    analysis, finished = state.open_part(analysis_id, STEPS["analysis.esd_products"])
    if analysis is None:
        return finished
    inputs = AnalysisInputs(analysis)
    grid, years = inputs.grid, inputs.years
    out = analysis_dir(analysis_id)
    cache = cache_dir("esd_products", inputs.lookup_key)
    crs, transform = grid.crs, grid.affine
    pairs = list(zip(years[:-1], years[1:], strict=True))
    names = [product_filename("similarity", y0, y1) for y0, y1 in pairs]
    names += [product_filename("esd_preview", year) for year in years]
    with timing.timed(analysis_id, "esd_products"):
        if not all((cache / name).exists() for name in names):
            for part in year_parts(len(pairs), 4 * grid.width * grid.height):  # float32 per pair
                similarity = mosaic_part(inputs, "similarity", (len(part),), np.float16, np.nan, lead=part)
                for j, k in enumerate(part):
                    name = product_filename("similarity", *pairs[k])
                    write_value_cog(cache / name, similarity[j].astype(np.float32), crs, transform, np.nan)
            for part in year_parts(len(years), 4 * grid.width * grid.height):  # RGBA uint8 per year
                preview = mosaic_part(inputs, "preview", (len(part), 4), np.uint8, 0, lead=part)
                for j, k in enumerate(part):
                    write_rgb_cog(
                        cache / product_filename("esd_preview", years[k]), preview[j], crs, transform
                    )
        products = [
            ProductFile(
                "similarity",
                _linked(cache, out, product_filename("similarity", y0, y1)),
                "similarity",
                y0,
                y1,
            )
            for y0, y1 in pairs
        ]
        products += [
            ProductFile(
                "esd_preview", _linked(cache, out, product_filename("esd_preview", year)), "rgb", year
            )
            for year in years
        ]
        record_products(analysis_id, products)
    state.mark_done(analysis_id, Part.ESD_PRODUCTS)
    return True
