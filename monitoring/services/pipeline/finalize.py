"""Stage 5, finalize: statistics (areas, transitions, temporal step, accuracy) and the download files;
once done, the first-view map tiles are drawn into the tile cache."""

from __future__ import annotations

from ml.change import change_statistics, pixel_area_ha
from monitoring.models import Analysis
from monitoring.services.exports import write_exports
from monitoring.services.pipeline import state, timing
from monitoring.services.pipeline.steps import Stage
from monitoring.services.pipeline.temporal import consistent_maps, temporal_statistics
from monitoring.services.tile_prerender import analysis_prerender_tiles
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import analysis_dir


def finalize(analysis_id: int) -> bool:
    """Compute statistics, write exports and mark the analysis done; True when this call finished it."""
    analysis = state.current(analysis_id, Stage.FINALIZE)
    if analysis is None:
        return False
    inputs = AnalysisInputs(analysis)
    grid = inputs.grid
    with timing.timed(analysis_id, "finalize"):
        maps = consistent_maps(inputs)
        classes = maps["classes"]
        area = pixel_area_ha(grid.affine, grid.crs, grid.height, grid.width)
        stats = dict(Analysis.objects.get(pk=analysis_id).stats or {})
        stats["areas"] = change_statistics(classes, inputs.years, area, inputs.class_names)
        stats["temporal"] = temporal_statistics(inputs, maps)
        stats["grid"] = {
            "width": grid.width,
            "height": grid.height,
            "resolution": grid.resolution,
            "crs": grid.crs.to_string(),
            "windows": len(grid.windows()),
        }
        samples = analysis.samples
        stats["samples"] = {"total": samples.count(), "changed": samples.filter(changed=True).count()}
        write_exports(analysis, analysis_dir(analysis_id), stats)
        Analysis.objects.filter(pk=analysis_id).update(stats=stats)
    finished = state.advance(analysis_id, Stage.FINALIZE)
    if finished:  # done: the user is not waiting for these
        with timing.timed(analysis_id, "prerender_tiles"):
            analysis_prerender_tiles(analysis_id=analysis_id)
    return finished
