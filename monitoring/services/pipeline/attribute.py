"""Stage 2b, attribution: explain TasGen's changed sample-years and fill the samples' ``attribution``.

Runs beside the classify windows, from the model and dynamic labels relabel stored; gives the same
numbers a single full TasGen apply gives. The analysis finalizes only once this is done (its
exports list the top months and bands of each changed sample).
"""

from __future__ import annotations

import numpy as np
from django.db import transaction

from ml.errors import MLError
from ml.esd.model import decode_codes
from ml.tasgen import dynamic
from ml.tasgen.dynamic import DynamicLabels
from ml.tasgen.pipeline import TasGenModel, fit_tasgen
from monitoring.models import Analysis, DynamicSample
from monitoring.selectors.decoders import decoder_for_tiles
from monitoring.services.pipeline import state, timing
from monitoring.services.pipeline.relabel import (
    attribution_path,
    load_dynamic,
    load_model,
    model_path,
    seed,
    tasgen_config,
    tasgen_input,
)
from monitoring.services.pipeline.steps import STEP as STEPS
from monitoring.services.pipeline.steps import Part
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import load_npz, save_npz

STEP = STEPS["analysis.attribute"]


def fitted_model(inputs: AnalysisInputs, dyn: DynamicLabels) -> TasGenModel | None:
    """The model that gave ``dyn``: the stored one, or fitted again (and stored) where TasGen ran but
    its model is missing or unreadable; None where TasGen did not run (no scores)."""
    model = load_model(inputs)
    if model is None and np.isfinite(dyn.score).any():
        series = tasgen_input(inputs).series
        if series is None:
            raise dynamic.DynamicLabelsError("the stored TasGen output does not match these labels")
        try:
            model = fit_tasgen(series, tasgen_config(inputs.analysis.parameters), seed(inputs))
        except MLError as exc:
            raise dynamic.DynamicLabelsError(f"TasGen could not refit its model: {exc}") from exc
        save_npz(model_path(inputs), **model.to_arrays())
    return model


def compute_attribution(inputs: AnalysisInputs) -> dict[str, np.ndarray]:
    """Gibbs attribution of TasGen's changed sample-years from the stored model and output.

    ``att_month (S, Y, 12)``, ``att_dim (S, Y, B)`` and ``band_names (B,)``: told in the spectral bands
    of the store's decoder (e.g. blue, red, nir, mir) when the tiles name one, else in the embedding
    dimensions c0..c5. Zeros where TasGen did not run or saw no change.
    """
    decoder = decoder_for_tiles(inputs.tiles)
    decode: dynamic.Decode | None = None
    bands = dynamic.DIM_NAMES
    if decoder is not None:
        esd_model, names = decoder
        bands = tuple(names)

        def decode(codes: np.ndarray) -> np.ndarray:
            return decode_codes(esd_model, codes)

    dyn = load_dynamic(inputs)
    model = fitted_model(inputs, dyn)
    return dynamic.compute_attribution(model, tasgen_input(inputs), dyn, seed(inputs), decode, bands)


def attribute(analysis_id: int) -> bool:
    """Explain TasGen's changes (Gibbs attribution) and fill the samples' ``attribution``; True when done."""
    analysis, finished = state.open_part(analysis_id, STEP)
    if analysis is None:
        return finished
    inputs = AnalysisInputs(analysis)
    path = attribution_path(inputs)
    with timing.timed(analysis_id, "attribution"):
        if not path.exists():
            save_npz(path, **compute_attribution(inputs))
        attributions = dynamic.sample_attributions(load_dynamic(inputs), load_npz(path))
        with transaction.atomic():
            Analysis.objects.select_for_update().get(pk=analysis_id)  # one writer at a time per analysis
            labels = {pk for pk, _ in attributions}
            rows = [
                row
                for row in DynamicSample.objects.filter(analysis_id=analysis_id, label_id__in=labels)
                if (row.label_id, row.year) in attributions
            ]
            for row in rows:  # the changed samples only: the others have none
                row.attribution = attributions[(row.label_id, row.year)]
            DynamicSample.objects.bulk_update(rows, ["attribution"], batch_size=500)
    state.mark_done(analysis_id, Part.ATTRIBUTION)
    return True
