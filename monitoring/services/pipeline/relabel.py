"""Stage 2, relabel: TasGen turns the static labels into one class per label and year."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from django.contrib.gis.geos import Point
from django.db import transaction

from ml.errors import MLError
from ml.esd.codec import CODE_DIM, indices_to_codes
from ml.tasgen.pipeline import TasGenConfig, run_tasgen
from ml.tasgen.series import SampleSeries
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, DynamicSample
from monitoring.services.pipeline import state
from monitoring.services.pipeline.inputs import AnalysisInputs
from monitoring.services.pipeline.lookup import labels_path
from monitoring.services.pipeline.paths import cache_dir, load_npz, save_npz

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DIM_NAMES = tuple(f"c{i}" for i in range(CODE_DIM))
TASGEN_KEYS = {f for f in TasGenConfig.__dataclass_fields__}


def relabel_path(inputs: AnalysisInputs):  # type: ignore[no-untyped-def]
    return cache_dir("relabel", inputs.relabel_key) / "dynamic.npz"


def tasgen_config(parameters: dict[str, Any]) -> TasGenConfig:
    extra = {k: v for k, v in (parameters.get("tasgen") or {}).items() if k in TASGEN_KEYS}
    return TasGenConfig(**extra)


def compute_dynamic(inputs: AnalysisInputs) -> dict[str, np.ndarray]:
    """Per-sample TasGen output: class, changed, anomaly, confidence, attribution (arrays over samples x years)."""
    data = load_npz(labels_path(inputs))
    years = tuple(int(y) for y in data["years"])
    label_pk, valid = data["label_pk"], data["valid"]
    by_pk = {lab.pk: lab for lab in inputs.labels}
    static = np.array([by_pk[int(pk)].klass for pk in label_pk], dtype=object).astype(str)
    ref = np.array([inputs.reference_year(by_pk[int(pk)]) for pk in label_pk], dtype=np.int64)
    ref = np.clip(ref, years[0], years[-1])  # a label dated outside the span describes its nearest year
    ref_idx = np.searchsorted(np.asarray(years), ref)
    usable = valid[np.arange(len(ref)), ref_idx]
    n, y = valid.shape
    klass = np.full((n, y), "", dtype=object)
    changed = np.zeros((n, y), dtype=bool)
    score = np.full((n, y), np.nan, dtype=np.float64)
    conf = np.zeros((n, y), dtype=np.float64)
    att_m = np.zeros((n, y, 12), dtype=np.float32)
    att_d = np.zeros((n, y, CODE_DIM), dtype=np.float32)
    warnings: list[str] = []
    config = tasgen_config(inputs.analysis.parameters)
    counts = Counter(static[usable])
    few = sorted(c for c, k in counts.items() if k < config.min_class_samples)
    if few:
        warnings.append(
            f"classes with fewer than {config.min_class_samples} usable labels keep their static class: {', '.join(few)}"
        )
    run = usable & ~np.isin(static, few)
    if (~usable).any():
        warnings.append(
            f"{int((~usable).sum())} label pixels have no ESD data in their reference year and were left out"
        )
    if len({c for c in static[run]}) >= 2:
        series = SampleSeries(
            values=indices_to_codes(data["indices"][run]),
            valid=valid[run],
            years=years,
            static_class=static[run],
            reference_year=ref[run],
            dim_names=DIM_NAMES,
        )
        try:
            out = run_tasgen(series, config, seed=int(inputs.analysis.parameters.get("seed", 0)))
        except MLError as exc:
            raise ApplicationError(f"TasGen could not relabel these samples: {exc}") from exc
        klass[run] = out.klass
        changed[run] = out.changed
        score[run] = out.anomaly_score
        conf[run] = out.confidence
        att_m[run] = out.attribution_month
        att_d[run] = out.attribution_dim
    else:
        warnings.append("fewer than 2 classes have enough labels: static labels are copied to every year")
    rest = ~run
    klass[rest] = np.where(valid[rest], static[rest][:, None], "")
    conf[rest] = np.where(valid[rest], 1.0, 0.0)
    # reviewer corrections override TasGen for their label-years
    for i, pk in enumerate(label_pk):
        for yr, cls in (by_pk[int(pk)].corrected_class or {}).items():
            if int(yr) in years and valid[i, years.index(int(yr))]:
                j = years.index(int(yr))
                klass[i, j] = cls
                changed[i, j] = cls != static[i]
                conf[i, j] = 1.0
    return {
        "label_pk": label_pk,
        "lon": data["lon"],
        "lat": data["lat"],
        "years": np.asarray(years),
        "valid": valid,
        "static": static,
        "klass": klass.astype(str),
        "changed": changed,
        "score": score,
        "confidence": conf,
        "att_month": att_m,
        "att_dim": att_d,
        "warnings": np.asarray(warnings, dtype=str),
    }


def _attribution(month: np.ndarray, dim: np.ndarray) -> dict[str, Any]:
    if float(month.sum()) <= 0:
        return {}
    months = {MONTHS[i]: round(float(v), 4) for i, v in enumerate(month)}
    dims = {DIM_NAMES[i]: round(float(v), 4) for i, v in enumerate(dim)}
    return {
        "months": months,
        "bands": dims,
        "top_months": [MONTHS[i] for i in np.argsort(-month)[:3] if month[i] > 0],
        "top_bands": [DIM_NAMES[i] for i in np.argsort(-dim)[:3] if dim[i] > 0],
    }


def write_samples(analysis: Analysis, dyn: dict[str, np.ndarray]) -> int:
    """Replace the analysis' dynamic samples (one per label and year) in one transaction; returns the count."""
    years = [int(y) for y in dyn["years"]]
    label_pk = dyn["label_pk"]
    rows: list[DynamicSample] = []
    for pk in dict.fromkeys(int(p) for p in label_pk):
        idx = np.flatnonzero(label_pk == pk)
        for j, year in enumerate(years):
            ok = idx[dyn["valid"][idx, j] & (dyn["klass"][idx, j] != "")]
            if ok.size == 0:
                continue
            vote = Counter(dyn["klass"][ok, j]).most_common(1)[0][0]
            agree = ok[dyn["klass"][ok, j] == vote]
            static = str(dyn["static"][idx[0]])
            rows.append(
                DynamicSample(
                    analysis=analysis,
                    label_id=pk,
                    year=year,
                    geometry=Point(float(dyn["lon"][idx[0]]), float(dyn["lat"][idx[0]]), srid=4326),
                    static_class=static,
                    dynamic_class=str(vote),
                    changed=str(vote) != static,
                    anomaly_score=float(
                        np.nan_to_num(
                            np.nanmean(dyn["score"][ok, j]) if np.isfinite(dyn["score"][ok, j]).any() else 0.0
                        )
                    ),
                    confidence=float(dyn["confidence"][agree, j].mean()),
                    attribution=_attribution(
                        dyn["att_month"][agree, j].mean(axis=0), dyn["att_dim"][agree, j].mean(axis=0)
                    ),
                )
            )
    with transaction.atomic():
        Analysis.objects.select_for_update().get(pk=analysis.pk)  # one writer at a time per analysis
        DynamicSample.objects.filter(analysis=analysis).delete()
        DynamicSample.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def relabel(analysis_id: int) -> bool:
    """Run TasGen (or reuse its cached output) and store the dynamic samples; True when the stage ended here."""
    analysis = state.current(analysis_id, "relabel")
    if analysis is None:
        return False
    state.check_cancel(analysis_id)
    inputs = AnalysisInputs(analysis)
    path = relabel_path(inputs)
    reused = path.exists()
    with state.timed(analysis_id, "relabel"):
        if not reused:
            save_npz(path, **compute_dynamic(inputs))
        dyn = load_npz(path)
        state.set_progress(analysis_id, "relabel", 0.8)
        count = write_samples(analysis, dyn)
    if reused:
        state.record_timing(analysis_id, "relabel", 0.0, reused=True)
    stats = dict(Analysis.objects.get(pk=analysis_id).stats or {})
    stats["warnings"] = [str(w) for w in dyn["warnings"]]
    stats["dynamic_samples"] = count
    Analysis.objects.filter(pk=analysis_id).update(stats=stats)
    return state.advance(analysis_id, "relabel")
