"""Stage 4, change: the published COGs (land cover and uncertainty per year, change, similarity, ESD preview).

Land cover, uncertainty and change products come from the consistent maps of the temporal step.

The similarity and ESD preview COGs depend on the embeddings alone: :func:`write_esd_products` writes
them as soon as the windows are looked up (beside relabel and the classify windows). The class
products wait for the classify windows (:func:`write_products`). The analysis moves on to finalize
once both and the attribution are done (:func:`finalize_join`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.db import transaction

from ml.change import change_maps, from_to
from ml.mapping import NODATA_CLASS
from ml.maps import write_class_cog, write_rgb_cog, write_value_cog
from monitoring.models import MapProduct
from monitoring.services.pipeline import state
from monitoring.services.pipeline.classify import mosaic
from monitoring.services.pipeline.inputs import AnalysisInputs
from monitoring.services.pipeline.paths import analysis_dir, relative
from monitoring.services.pipeline.temporal import consistent_maps


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


def _product(
    analysis_id: int, kind: str, path: Path, colormap: str, year: int = 0, year_to: int = 0, stats=None
) -> None:  # type: ignore[no-untyped-def]
    MapProduct.objects.update_or_create(
        analysis_id=analysis_id,
        kind=kind,
        year=year,
        year_to=year_to,
        defaults={"path": relative(path), "colormap": colormap, "class_stats": stats or {}},
    )


# What must be done before finalize: the class products, the embedding products, the attribution.
FINALIZE_NEEDS = ("change", "esd_products", "attribution")
ESD_PRODUCT_STAGES = ("relabel", "classify", "change")


def finalize_join(analysis_id: int) -> bool:
    """Move from change to finalize once every part of :data:`FINALIZE_NEEDS` is done; True for the mover."""
    if state.current(analysis_id, "change") is None:
        return False
    return state.join(analysis_id, "change", FINALIZE_NEEDS)


def write_products(analysis_id: int) -> bool:
    """Write the class map COGs (idempotent: same paths, atomic writes); True once they are written."""
    analysis, finished = state.open_part(analysis_id, "change", ("change",))
    if analysis is None:
        return finished
    inputs = AnalysisInputs(analysis)
    grid, years, names = inputs.grid, inputs.years, inputs.class_names
    colors = [c["color"] for c in analysis.label_set.map_classes]
    out = analysis_dir(analysis_id)
    crs, transform = grid.crs, grid.affine
    with state.timed(analysis_id, "change"):
        consistent = consistent_maps(inputs)
        classes, uncertainty = consistent["classes"], consistent["uncertainty"]
        products: list[tuple] = []
        for j, year in enumerate(years):
            path = write_class_cog(out / f"landcover_{year}.tif", classes[j], crs, transform, colors)
            unc = write_value_cog(
                out / f"uncertainty_{year}.tif", uncertainty[j].astype(np.float32), crs, transform, np.nan
            )
            products.append(("uncertainty", unc, "uncertainty", year, 0, {}))
            counts = np.bincount(classes[j][classes[j] != NODATA_CLASS], minlength=len(names))
            products.append(
                (
                    "landcover",
                    path,
                    "classes",
                    year,
                    0,
                    {"pixels": {n: int(counts[i]) for i, n in enumerate(names)}},
                )
            )
        state.set_progress(analysis_id, "change", 0.5)
        maps = change_maps(classes, years)
        products.append(
            (
                "change_last_year",
                write_value_cog(out / "change_last_year.tif", maps.last_change_year, crs, transform, 0),
                "years",
                0,
                0,
                {},
            )
        )
        products.append(
            (
                "change_count",
                write_value_cog(out / "change_count.tif", maps.change_count, crs, transform, 255),
                "change_count",
                0,
                0,
                {},
            )
        )
        y0, y1 = change_pair(inputs)
        code = from_to(classes[years.index(y0)], classes[years.index(y1)], len(names))
        products.append(
            (
                "change_from_to",
                write_value_cog(out / f"change_{y0}_{y1}.tif", code, crs, transform, 0),
                "from_to",
                y0,
                y1,
                {},
            )
        )
        with transaction.atomic():
            for kind, path, cmap, year, year_to, stats in products:
                _product(analysis_id, kind, path, cmap, year, year_to, stats)
    state.mark_done(analysis_id, "change")
    return True


def write_esd_products(analysis_id: int) -> bool:
    """Write the similarity and ESD preview COGs from the lookup windows; True once they are written."""
    analysis, finished = state.open_part(analysis_id, "esd_products", ESD_PRODUCT_STAGES)
    if analysis is None:
        return finished
    inputs = AnalysisInputs(analysis)
    grid, years = inputs.grid, inputs.years
    out = analysis_dir(analysis_id)
    crs, transform = grid.crs, grid.affine
    with state.timed(analysis_id, "esd_products"):
        products: list[tuple] = []
        similarity = mosaic(inputs, "similarity", (len(years) - 1,), np.float32, np.nan)
        for j in range(len(years) - 1):
            path = write_value_cog(
                out / f"similarity_{years[j]}_{years[j + 1]}.tif",
                similarity[j].astype(np.float32),
                crs,
                transform,
                np.nan,
            )
            products.append(("similarity", path, "similarity", years[j], years[j + 1], {}))
        del similarity
        preview = mosaic(inputs, "preview", (len(years), 4), np.uint8, 0)
        for j, year in enumerate(years):
            products.append(
                (
                    "esd_preview",
                    write_rgb_cog(out / f"esd_preview_{year}.tif", preview[j], crs, transform),
                    "rgb",
                    year,
                    0,
                    {},
                )
            )
        with transaction.atomic():
            for kind, path, cmap, year, year_to, stats in products:
                _product(analysis_id, kind, path, cmap, year, year_to, stats)
    state.mark_done(analysis_id, "esd_products")
    return True
