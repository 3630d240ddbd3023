"""Stage 2, relabel: TasGen turns the static labels into one class per label and year.

Relabel fits TasGen and applies it without the Gibbs attribution (the slow part of apply), stores
the dynamic samples and the fitted model; :func:`attribute` explains the changed sample-years later,
in a task of its own that runs beside the classify windows, and fills the samples' ``attribution``
with the same numbers a single full apply gives.
"""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.gis.geos import Point
from django.db import transaction

from ml.errors import MLError
from ml.esd.codec import CODE_DIM, indices_to_codes
from ml.esd.model import decode_codes
from ml.review import keep_reference_year, review_reason
from ml.tasgen.pipeline import (
    TasGenConfig,
    apply_tasgen,
    attribute_changes,
    attribute_changes_decoded,
    fit_tasgen,
    refit_with_reviews,
)
from ml.tasgen.series import SampleSeries
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, DynamicSample
from monitoring.services.pipeline import state
from monitoring.services.pipeline.inputs import AnalysisInputs
from monitoring.services.pipeline.lookup import labels_path
from monitoring.services.pipeline.paths import cache_dir, load_npz, save_npz, write_bytes_atomic

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DIM_NAMES = tuple(f"c{i}" for i in range(CODE_DIM))
TASGEN_KEYS = {f for f in TasGenConfig.__dataclass_fields__}
# Stages during which relabel (and the attribution after it) may run: relabel starts with the lookup.
RELABEL_STAGES = ("lookup", "relabel")
ATTRIBUTION_STAGES = ("lookup", "relabel", "classify", "change")
SAMPLE_CHUNK = 200  # dynamic samples written per transaction (keeps SQLite's write lock short)


def relabel_path(inputs: AnalysisInputs):  # type: ignore[no-untyped-def]
    """TasGen output per label pixel and year (written last: the relabel cache's marker)."""
    return cache_dir("relabel", inputs.relabel_key) / "dynamic.npz"


def model_path(inputs: AnalysisInputs):  # type: ignore[no-untyped-def]
    """The fitted TasGen model (pickled; absent when TasGen did not run: fewer than 2 classes).

    Keyed by :attr:`AnalysisInputs.tasgen_key` (everything but the reviewers' answers): applying
    reviews re-uses the fit and only re-applies it, with the answers on top.
    """
    return cache_dir("tasgen", inputs.tasgen_key) / "tasgen.pkl"


def attribution_path(inputs: AnalysisInputs):  # type: ignore[no-untyped-def]
    """``att_month (S, Y, 12)`` and ``att_dim (S, Y, 6)`` float32 per label pixel and year.

    It explains TasGen's own changes (before reviewers' answers), so it shares the fit's key.
    """
    return cache_dir("tasgen", inputs.tasgen_key) / "attribution.npz"


def tasgen_config(parameters: dict[str, Any]) -> TasGenConfig:
    extra = {k: v for k, v in (parameters.get("tasgen") or {}).items() if k in TASGEN_KEYS}
    return TasGenConfig(**extra)


@dataclass
class TasGenInput:
    """The label pixels of an analysis as TasGen sees them."""

    label_pk: np.ndarray  # (S,) label of each pixel sample
    data: dict[str, np.ndarray]  # the label lookup (indices, valid, lon, lat, years)
    years: tuple[int, ...]
    static: np.ndarray  # (S,) static class
    run: np.ndarray  # (S,) bool: samples TasGen relabels (usable, of a class with enough samples)
    series: SampleSeries | None  # the series of the ``run`` samples; None when fewer than 2 classes
    warnings: list[str]
    ref_index: np.ndarray  # (S,) index into ``years`` of each pixel's reference (label) year


def tasgen_input(inputs: AnalysisInputs) -> TasGenInput:
    """Which label pixels TasGen relabels, and their series (the same for relabel and attribution)."""
    data = load_npz(labels_path(inputs))
    years = tuple(int(y) for y in data["years"])
    label_pk, valid = data["label_pk"], data["valid"]
    by_pk = {lab.pk: lab for lab in inputs.labels}
    static = np.array([by_pk[int(pk)].klass for pk in label_pk], dtype=object).astype(str)
    ref = np.array([inputs.reference_year(by_pk[int(pk)]) for pk in label_pk], dtype=np.int64)
    ref = np.clip(ref, years[0], years[-1])  # a label dated outside the span describes its nearest year
    ref_idx = np.searchsorted(np.asarray(years), ref)
    usable = valid[np.arange(len(ref)), ref_idx]
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
    series = None
    if len({c for c in static[run]}) >= 2:
        series = SampleSeries(
            values=indices_to_codes(data["indices"][run]),
            valid=valid[run],
            years=years,
            static_class=static[run],
            reference_year=ref[run],
            dim_names=DIM_NAMES,
        )
    else:
        warnings.append("fewer than 2 classes have enough labels: static labels are copied to every year")
    return TasGenInput(label_pk, data, years, static, run, series, warnings, ref_index=ref_idx)


def compute_dynamic(inputs: AnalysisInputs, model: Any = None) -> tuple[dict[str, np.ndarray], Any]:
    """Per-sample TasGen output (class, changed, anomaly, confidence over samples x years) and the model.

    ``model``: a TasGen model already fitted on these inputs (applying reviews): applied, not refitted.
    ``tasgen_changed`` is TasGen's own change flag (before reviewer corrections): what the attribution
    explains. A label's own year keeps its label (``ml.review.keep_reference_year``); ``suggested``
    ``(S,)`` holds TasGen's class there where it disagrees ("label may be wrong", for review), and
    ``threshold (S,)`` each pixel's anomaly threshold (stage 1 flags ``score > threshold``); ``value
    (S, Y)`` the value of reviewing each pixel-year (``ml.tasgen`` ``DynamicSamples.review_value``).
    Reviewers' answers (``Label.corrected_class``) refit TasGen's stage 2 (``refit_with_reviews``: the
    other years learn from them) and hold for their own years.
    The model is None when TasGen did not run (fewer than 2 classes).
    """
    ti = tasgen_input(inputs)
    data, years, static, run = ti.data, ti.years, ti.static, ti.run
    label_pk, valid = data["label_pk"], data["valid"]
    n, y = valid.shape
    klass = np.full((n, y), "", dtype=object)
    changed = np.zeros((n, y), dtype=bool)
    score = np.full((n, y), np.nan, dtype=np.float64)
    conf = np.zeros((n, y), dtype=np.float64)
    threshold = np.full(n, np.nan, dtype=np.float64)
    value = np.zeros((n, y), dtype=np.float64)
    answers = _answers(inputs, label_pk, years, valid)
    if ti.series is None:
        model = None
    else:
        seed = int(inputs.analysis.parameters.get("seed", 0))
        try:
            if model is None:
                model = fit_tasgen(ti.series, tasgen_config(inputs.analysis.parameters), seed)
            reviews = answers[run].astype(str)
            if (reviews != "").any():  # stage 2 learns from the answers, then they are kept as given
                reviewed_model = refit_with_reviews(model, ti.series, reviews, seed)
                out = apply_tasgen(reviewed_model, ti.series, seed, attribute=False, reviews=reviews)
            else:
                out = apply_tasgen(model, ti.series, seed, attribute=False)
        except MLError as exc:
            raise ApplicationError(f"TasGen could not relabel these samples: {exc}") from exc
        klass[run] = out.klass
        changed[run] = out.changed
        score[run] = out.anomaly_score
        conf[run] = out.confidence
        threshold[run] = out.threshold
        value[run] = np.where(np.isfinite(v := out.review_value()), v, 0.0)
    tasgen_changed = changed.copy()
    kept = keep_reference_year(klass, changed, static, ti.ref_index, valid)
    klass, changed = kept.klass.astype(object), kept.changed
    rest = ~run if ti.series is not None else np.ones(n, dtype=bool)
    klass[rest] = np.where(valid[rest], static[rest][:, None], "")
    conf[rest] = np.where(valid[rest], 1.0, 0.0)
    # reviewers' answers hold for their label-years (also where TasGen did not run)
    answered = answers != ""
    klass[answered] = answers[answered]
    changed[answered] = answers[answered] != np.broadcast_to(static[:, None], (n, y))[answered]
    conf[answered] = 1.0
    dyn = {
        "label_pk": label_pk,
        "lon": data["lon"],
        "lat": data["lat"],
        "years": np.asarray(years),
        "valid": valid,
        "static": static,
        "klass": klass.astype(str),
        "changed": changed,
        "tasgen_changed": tasgen_changed,
        "threshold": threshold,
        "value": value,
        "answered": answered,
        "ref_index": ti.ref_index,
        "suggested": kept.suggested,
        "score": score,
        "confidence": conf,
        "warnings": np.asarray(ti.warnings, dtype=str),
    }
    return dyn, model


def _answers(
    inputs: AnalysisInputs, label_pk: np.ndarray, years: tuple[int, ...], valid: np.ndarray
) -> np.ndarray:
    """``(S, Y)`` the reviewers' class of each label pixel-year (``""``: not answered or no data)."""
    by_pk = {lab.pk: lab for lab in inputs.labels}
    out = np.full(valid.shape, "", dtype=object)
    for i, pk in enumerate(label_pk):
        for yr, cls in (by_pk[int(pk)].corrected_class or {}).items():
            if int(yr) in years and valid[i, years.index(int(yr))]:
                out[i, years.index(int(yr))] = str(cls)
    return out


def compute_attribution(inputs: AnalysisInputs) -> dict[str, np.ndarray]:
    """Gibbs attribution of TasGen's changed sample-years from the stored model and output.

    ``att_month (S, Y, 12)``, ``att_dim (S, Y, B)`` and ``band_names (B,)``: told in the spectral bands
    of the store's decoder (e.g. blue, red, nir, mir; ``attribute_changes_decoded``) when the tiles name
    one, else in the embedding dimensions c0..c5. Zeros where TasGen did not run or saw no change.
    """
    from monitoring.selectors.decoders import decoder_for_tiles

    dyn = load_npz(relabel_path(inputs))
    n, y = dyn["valid"].shape
    decoder = decoder_for_tiles(inputs.tiles)
    names = tuple(decoder[1]) if decoder is not None else DIM_NAMES
    att_m = np.zeros((n, y, 12), dtype=np.float32)
    att_d = np.zeros((n, y, len(names)), dtype=np.float32)
    if model_path(inputs).exists():
        ti = tasgen_input(inputs)
        model = pickle.loads(model_path(inputs).read_bytes())
        run = ti.run
        seed = int(inputs.analysis.parameters.get("seed", 0))
        series = ti.series
        if series is None:
            raise ApplicationError(
                "the stored TasGen model does not match these labels; run the analysis again"
            )
        try:
            if decoder is not None:
                esd_model = decoder[0]
                month, dim = attribute_changes_decoded(
                    model,
                    series,
                    dyn["tasgen_changed"][run],
                    dyn["score"][run],
                    lambda codes: decode_codes(esd_model, codes),
                    seed=seed,
                )
            else:
                month, dim = attribute_changes(
                    model, series, dyn["tasgen_changed"][run], dyn["score"][run], seed=seed
                )
        except MLError as exc:
            raise ApplicationError(f"TasGen could not explain the changes: {exc}") from exc
        att_m[run] = month
        att_d[run] = dim
    return {"att_month": att_m, "att_dim": att_d, "band_names": np.asarray(names, dtype=str)}


def _attribution(month: np.ndarray, dim: np.ndarray, names: tuple[str, ...]) -> dict[str, Any]:
    """``{"months", "bands", "top_months", "top_bands"}``: shares by month and by band (``names``)."""
    if float(month.sum()) <= 0:
        return {}
    return {
        "months": {MONTHS[i]: round(float(v), 4) for i, v in enumerate(month)},
        "bands": {names[i]: round(float(v), 4) for i, v in enumerate(dim)},
        "top_months": [MONTHS[i] for i in np.argsort(-month)[:3] if month[i] > 0],
        "top_bands": [names[i] for i in np.argsort(-dim)[:3] if dim[i] > 0],
    }


def _label_years(dyn: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    """Per label and year with data: (label pk, year index, pixel rows, rows agreeing with the vote, vote)."""
    label_pk = dyn["label_pk"]
    for pk in dict.fromkeys(int(p) for p in label_pk):
        idx = np.flatnonzero(label_pk == pk)
        for j in range(len(dyn["years"])):
            ok = idx[dyn["valid"][idx, j] & (dyn["klass"][idx, j] != "")]
            if ok.size == 0:
                continue
            vote = Counter(dyn["klass"][ok, j]).most_common(1)[0][0]
            yield pk, j, idx, ok, ok[dyn["klass"][ok, j] == vote], str(vote)


def sample_attributions(
    dyn: dict[str, np.ndarray], att: dict[str, np.ndarray]
) -> dict[tuple[int, int], dict]:
    """``{(label pk, year): attribution}`` of the samples with one (the mean over agreeing pixels)."""
    years = [int(y) for y in dyn["years"]]
    names = tuple(str(b) for b in att["band_names"]) if "band_names" in att else DIM_NAMES
    out = {}
    for pk, j, _, _, agree, _ in _label_years(dyn):
        value = _attribution(
            att["att_month"][agree, j].mean(axis=0), att["att_dim"][agree, j].mean(axis=0), names
        )
        if value:
            out[(pk, years[j])] = value
    return out


def write_samples(analysis: Analysis, dyn: dict[str, np.ndarray], att: dict[str, np.ndarray] | None) -> int:
    """Replace the analysis' dynamic samples (one per label and year); returns the count.

    ``att`` (the attribution arrays) fills ``attribution`` when it is already known (a re-run with
    the same inputs); otherwise it stays empty until :func:`attribute` fills it.
    """
    years = [int(y) for y in dyn["years"]]
    attributions = sample_attributions(dyn, att) if att is not None else {}
    rows: list[DynamicSample] = []
    for pk, j, idx, ok, agree, vote in _label_years(dyn):
        static = str(dyn["static"][idx[0]])
        at_ref = ok[dyn["ref_index"][ok] == j]
        suggested = (
            Counter(str(c) for c in dyn["suggested"][at_ref]).most_common(1)[0][0] if at_ref.size else ""
        )
        confidence = float(dyn["confidence"][agree, j].mean())
        rows.append(
            DynamicSample(
                analysis=analysis,
                label_id=pk,
                year=years[j],
                geometry=Point(float(dyn["lon"][idx[0]]), float(dyn["lat"][idx[0]]), srid=4326),
                static_class=static,
                dynamic_class=vote,
                changed=vote != static,
                anomaly_score=float(
                    np.nan_to_num(
                        np.nanmean(dyn["score"][ok, j]) if np.isfinite(dyn["score"][ok, j]).any() else 0.0
                    )
                ),
                confidence=confidence,
                attribution=attributions.get((pk, years[j]), {}),
                review_reason=review_reason(
                    static=static,
                    dynamic=vote,
                    confidence=confidence,
                    suggested=suggested,
                    answered=bool(dyn["answered"][ok, j].any()),
                ),
                suggested_class=suggested,
            )
        )
        rows[-1].review_value = round(float(dyn["value"][ok, j].mean()), 4)
    samples_replace(analysis.pk, rows)
    return len(rows)


def samples_replace(analysis_id: int, rows: list[DynamicSample]) -> None:
    """Replace the analysis' dynamic samples by ``rows`` in short transactions (SAMPLE_CHUNK rows each).

    SQLite has one writer at a time: one transaction of all rows (20,000 for a large label set) held
    the lock for seconds, and web requests waited or failed behind it. Here the delete is one
    statement and each chunk its own transaction. A re-run (a redelivered task) deletes and writes
    again; two runs at once write the same rows and ``ignore_conflicts`` keeps their union, which is
    that same set. Readers may see part of the rows while the relabel stage runs; the stage is done
    (and the analysis readable) only after this returns.
    """
    DynamicSample.objects.filter(analysis_id=analysis_id).delete()
    for start in range(0, len(rows), SAMPLE_CHUNK):
        DynamicSample.objects.bulk_create(rows[start : start + SAMPLE_CHUNK], ignore_conflicts=True)


def relabel(analysis_id: int) -> bool:
    """Run TasGen (or reuse its cached output) and store the dynamic samples; True once they are stored.

    Runs beside the window lookups (it needs only the label lookup). A repeated call after the samples
    were stored (a redelivered task) leaves them, and the attribution written into them, as they are.
    """
    analysis, finished = state.open_part(analysis_id, "relabel", RELABEL_STAGES)
    if analysis is None:
        return finished
    inputs = AnalysisInputs(analysis)
    path = relabel_path(inputs)
    reused = path.exists()
    with state.timed(analysis_id, "relabel"):
        if not reused:
            fitted = model_path(inputs).exists()  # same inputs but the reviewers' answers: apply only
            model = pickle.loads(model_path(inputs).read_bytes()) if fitted else None
            dyn, model = compute_dynamic(inputs, model)
            if model is not None and not fitted:
                write_bytes_atomic(model_path(inputs), pickle.dumps(model))
            save_npz(path, **dyn)
        dyn = load_npz(path)
        state.set_progress(analysis_id, "relabel", 0.8)
        att = load_npz(attribution_path(inputs)) if attribution_path(inputs).exists() else None
        count = write_samples(analysis, dyn, att)
    if reused:
        state.record_timing(analysis_id, "relabel", 0.0, reused=True)
    stats = dict(Analysis.objects.get(pk=analysis_id).stats or {})
    stats["warnings"] = [str(w) for w in dyn["warnings"]]
    stats["dynamic_samples"] = count
    Analysis.objects.filter(pk=analysis_id).update(stats=stats)
    state.mark_done(analysis_id, "relabel")
    return True


def attribute(analysis_id: int) -> bool:
    """Explain TasGen's changes (Gibbs attribution) and fill the samples' ``attribution``; True when done.

    Runs beside the classify windows; the analysis finalizes only once this is done (its exports list
    the top months and bands of each changed sample).
    """
    analysis, finished = state.open_part(analysis_id, "attribution", ATTRIBUTION_STAGES, needs=("relabel",))
    if analysis is None:
        return finished
    inputs = AnalysisInputs(analysis)
    path = attribution_path(inputs)
    with state.timed(analysis_id, "attribution"):
        if not path.exists():
            save_npz(path, **compute_attribution(inputs))
        attributions = sample_attributions(load_npz(relabel_path(inputs)), load_npz(path))
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
    state.mark_done(analysis_id, "attribution")
    return True
