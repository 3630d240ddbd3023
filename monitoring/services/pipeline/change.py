"""Stage 4, change: the published class COGs (land cover and uncertainty per year, change products).

Land cover, uncertainty and change products come from the consistent maps of the temporal step; they
wait for the classify windows (:func:`write_products`). The similarity and ESD preview COGs are written
beside them by :mod:`.esd_products`. The analysis moves on to finalize once both and the attribution
are done (``steps.FINALIZE_JOIN``).
"""

from __future__ import annotations

import numpy as np
from django.db import transaction

from ml.change import change_maps, from_to
from ml.cog import write_class_cog, write_value_cog
from ml.mapping import NODATA_CLASS
from ml.products import ProductFile, product_filename
from monitoring.models import MapProduct
from monitoring.services.pipeline import state, timing
from monitoring.services.pipeline.steps import STEP as STEPS
from monitoring.services.pipeline.steps import Part, Stage
from monitoring.services.pipeline.temporal import consistent_maps
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import analysis_dir, relative


def change_pair(inputs: AnalysisInputs) -> tuple[int, int]:
    """The from-to pair of years: ``parameters["change_pair"]`` or (first, last) year."""
    years = inputs.years
    pair = inputs.analysis.parameters.get("change_pair") or [years[0], years[-1]]
    y0, y1 = int(pair[0]), int(pair[1])
    return (y0, y1) if y0 in years and y1 in years and y0 != y1 else (years[0], years[-1])


def class_maps(inputs: AnalysisInputs) -> np.ndarray:
    """(Y, H, W) uint8 consistent class maps of the whole grid (255 outside the AOI or without data).

    The output of the temporal step (:func:`~monitoring.services.pipeline.temporal.consistent_maps`):
    with ``temporal.enabled`` and ``smoothing.enabled`` both false, each year's own most probable class.
    """
    return consistent_maps(inputs)["classes"]


def record_products(analysis_id: int, products: list[ProductFile]) -> None:
    """Create or update the ``MapProduct`` rows of written products (one transaction)."""
    with transaction.atomic():
        for p in products:
            MapProduct.objects.update_or_create(
                analysis_id=analysis_id,
                kind=p.kind,
                year=p.year,
                year_to=p.year_to,
                defaults={"path": relative(p.path), "colormap": p.colormap, "class_stats": p.class_stats},
            )


def write_products(analysis_id: int) -> bool:
    """Write the class map COGs (idempotent: same paths, atomic writes); True once they are written."""
    analysis, finished = state.open_part(analysis_id, STEPS["analysis.change"])
    if analysis is None:
        return finished
    inputs = AnalysisInputs(analysis)
    grid, years, names = inputs.grid, inputs.years, inputs.class_names
    colors = [c["color"] for c in analysis.label_set.map_classes]
    out = analysis_dir(analysis_id)
    crs, transform = grid.crs, grid.affine
    with timing.timed(analysis_id, "change"):
        consistent = consistent_maps(inputs)
        classes, uncertainty = consistent["classes"], consistent["uncertainty"]
        products: list[ProductFile] = []
        for j, year in enumerate(years):
            path = write_class_cog(
                out / product_filename("landcover", year), classes[j], crs, transform, colors
            )
            unc = write_value_cog(
                out / product_filename("uncertainty", year),
                uncertainty[j].astype(np.float32),
                crs,
                transform,
                np.nan,
            )
            products.append(ProductFile("uncertainty", unc, "uncertainty", year))
            counts = np.bincount(classes[j][classes[j] != NODATA_CLASS], minlength=len(names))
            pixels = {"pixels": {n: int(counts[i]) for i, n in enumerate(names)}}
            products.append(ProductFile("landcover", path, "classes", year, class_stats=pixels))
        state.set_progress(analysis_id, Stage.CHANGE, 0.5)
        maps = change_maps(classes, years)
        last = write_value_cog(
            out / product_filename("change_last_year"), maps.last_change_year, crs, transform, 0
        )
        products.append(ProductFile("change_last_year", last, "years"))
        count = write_value_cog(
            out / product_filename("change_count"), maps.change_count, crs, transform, 255
        )
        products.append(ProductFile("change_count", count, "change_count"))
        y0, y1 = change_pair(inputs)
        code = from_to(classes[years.index(y0)], classes[years.index(y1)], len(names))
        pair = write_value_cog(out / product_filename("change", y0, y1), code, crs, transform, 0)
        products.append(ProductFile("change_from_to", pair, "from_to", y0, y1))
        record_products(analysis_id, products)
    state.mark_done(analysis_id, Part.CHANGE)
    return True
