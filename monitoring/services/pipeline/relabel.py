"""Stage 2, relabel: TasGen turns the static labels into one class per label and year.

Relabel fits TasGen and applies it without the Gibbs attribution (the slow part of apply), stores
the dynamic labels (:class:`ml.tasgen.dynamic.DynamicLabels`), the dynamic samples and the fitted
model; :mod:`attribute` explains the changed sample-years later, in a task of its own.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ml.tasgen import dynamic
from ml.tasgen.dynamic import DynamicLabels, TasGenInput
from ml.tasgen.pipeline import TasGenConfig, TasGenModel
from monitoring.models import Analysis
from monitoring.services.dynamic_samples import dynamic_samples_replace
from monitoring.services.pipeline import state, timing
from monitoring.services.pipeline.lookup import labels_path
from monitoring.services.pipeline.steps import STEP as STEPS
from monitoring.services.pipeline.steps import Part, Stage
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import cache_dir, load_npz, save_npz

TASGEN_KEYS = {f for f in TasGenConfig.__dataclass_fields__}
STEP = STEPS["analysis.relabel"]
log = logging.getLogger(__name__)


def relabel_path(inputs: AnalysisInputs) -> Path:
    """TasGen output per label pixel and year (written last: the relabel cache's marker)."""
    return cache_dir("relabel", inputs.relabel_key) / "dynamic.npz"


def model_path(inputs: AnalysisInputs) -> Path:
    """The fitted TasGen model as plain arrays (:meth:`TasGenModel.to_arrays`; absent when TasGen did
    not run: fewer than 2 classes).

    Keyed by :attr:`AnalysisInputs.tasgen_key` (everything but the reviewers' answers): applying
    reviews re-uses the fit and only re-applies it, with the answers on top.
    """
    return cache_dir("tasgen", inputs.tasgen_key) / "tasgen.npz"


def attribution_path(inputs: AnalysisInputs) -> Path:
    """``att_month (S, Y, 12)`` and ``att_dim (S, Y, 6)`` float32 per label pixel and year.

    It explains TasGen's own changes (before reviewers' answers), so it shares the fit's key.
    """
    return cache_dir("tasgen", inputs.tasgen_key) / "attribution.npz"


def tasgen_config(parameters: dict[str, Any]) -> TasGenConfig:
    extra = {k: v for k, v in (parameters.get("tasgen") or {}).items() if k in TASGEN_KEYS}
    return TasGenConfig(**extra)


def tasgen_input(inputs: AnalysisInputs) -> TasGenInput:
    """Which label pixels TasGen relabels, and their series (the same for relabel and attribution)."""
    data = load_npz(labels_path(inputs))
    by_pk = {lab.pk: lab for lab in inputs.labels}
    label_pk = data["label_pk"]
    static = np.array([by_pk[int(pk)].klass for pk in label_pk], dtype=object).astype(str)
    ref = np.array([inputs.reference_year(by_pk[int(pk)]) for pk in label_pk], dtype=np.int64)
    return dynamic.tasgen_input(data, static, ref, tasgen_config(inputs.analysis.parameters))


def compute_dynamic(
    inputs: AnalysisInputs, model: TasGenModel | None = None
) -> tuple[DynamicLabels, TasGenModel | None]:
    """TasGen's output with the reviewers' answers, and the model (see :func:`dynamic.compute_dynamic`).

    ``model``: a TasGen model already fitted on these inputs (applying reviews): applied, not refitted.
    """
    corrections = {lab.pk: lab.corrected_class or {} for lab in inputs.labels}
    return dynamic.compute_dynamic(
        tasgen_input(inputs),
        tasgen_config(inputs.analysis.parameters),
        seed(inputs),
        corrections,
        model,
    )


def seed(inputs: AnalysisInputs) -> int:
    return int(inputs.analysis.parameters.get("seed", 0))


def load_dynamic(inputs: AnalysisInputs) -> DynamicLabels:
    """The dynamic labels relabel stored (after it is done)."""
    return DynamicLabels.from_arrays(load_npz(relabel_path(inputs)))


def load_model(inputs: AnalysisInputs) -> TasGenModel | None:
    """The TasGen model relabel fitted; None when TasGen did not run (fewer than 2 classes) or the
    stored file cannot be read (another version's format, e.g. an old pickle: a cache miss)."""
    path = model_path(inputs)
    if not path.exists():
        return None
    try:
        return TasGenModel.from_arrays(load_npz(path))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:  # TasGenError is a ValueError
        log.warning("TasGen model cache %s unreadable, fitting again: %s", path, exc)
        return None


def relabel(analysis_id: int) -> bool:
    """Run TasGen (or reuse its cached output) and store the dynamic samples; True once they are stored.

    Runs beside the window lookups (it needs only the label lookup). A repeated call after the samples
    were stored (a redelivered task) leaves them, and the attribution written into them, as they are.
    """
    analysis, finished = state.open_part(analysis_id, STEP)
    if analysis is None:
        return finished
    inputs = AnalysisInputs(analysis)
    path = relabel_path(inputs)
    reused = path.exists()
    with timing.timed(analysis_id, "relabel"):
        if not reused:
            fitted = load_model(inputs)  # same inputs but the reviewers' answers: apply only
            dyn, model = compute_dynamic(inputs, fitted)
            if model is not None and fitted is None:
                save_npz(model_path(inputs), **model.to_arrays())
            save_npz(path, **dyn.to_arrays())
        dyn = load_dynamic(inputs)
        state.set_progress(analysis_id, Stage.RELABEL, 0.8)
        att = load_npz(attribution_path(inputs)) if attribution_path(inputs).exists() else None
        count = dynamic_samples_replace(analysis=analysis, dyn=dyn, att=att)
    if reused:
        timing.record_timing(analysis_id, "relabel", 0.0, reused=True)
    stats = dict(Analysis.objects.get(pk=analysis_id).stats or {})
    stats["warnings"] = [str(w) for w in dyn.warnings]
    stats["dynamic_samples"] = count
    Analysis.objects.filter(pk=analysis_id).update(stats=stats)
    state.mark_done(analysis_id, Part.RELABEL)
    return True
