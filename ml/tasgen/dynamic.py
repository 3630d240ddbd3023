"""Dynamic labels of an analysis: TasGen's class per label pixel and year, reviewer overrides, votes.

The app looks up the ESD codes of every label pixel (:mod:`ml.sampling`) and passes them here with
each pixel's static class and reference year. :func:`tasgen_input` decides which pixels TasGen
relabels, :func:`compute_dynamic` fits and applies TasGen and lays reviewer corrections over its
output (a :class:`DynamicLabels`), :func:`compute_attribution` explains TasGen's changes later from
the fitted model, and :func:`sample_attributions` / :func:`label_years` reduce pixels to one sample
per label and year (the majority class of the label's pixels).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ml.errors import MLError
from ml.esd.codec import CODE_DIM, indices_to_codes
from ml.review import keep_reference_year
from ml.tasgen.pipeline import (
    TasGenConfig,
    TasGenModel,
    apply_tasgen,
    attribute_changes,
    attribute_changes_decoded,
    fit_tasgen,
    refit_with_reviews,
)
from ml.tasgen.series import SampleSeries

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DIM_NAMES = tuple(f"c{i}" for i in range(CODE_DIM))  # names of the 6 ESD code dimensions


class DynamicLabelsError(MLError, ValueError):
    """TasGen could not relabel or explain the label pixels (the message says why)."""


@dataclass
class TasGenInput:
    """The label pixels of an analysis as TasGen sees them."""

    label_pk: np.ndarray  # (S,) label of each pixel sample
    data: dict[str, np.ndarray]  # the label lookup (indices, valid, lon, lat, years, label_pk)
    years: tuple[int, ...]
    static: np.ndarray  # (S,) str static class
    run: np.ndarray  # (S,) bool: samples TasGen relabels (usable, of a class with enough samples)
    series: SampleSeries | None  # the series of the ``run`` samples; None when fewer than 2 classes
    warnings: list[str]
    ref_index: np.ndarray  # (S,) index into ``years`` of each pixel's reference (label) year


@dataclass(frozen=True)
class DynamicLabels:
    """TasGen's output per label pixel ``s`` and year ``y`` (after reviewer corrections).

    ``klass`` is ``""`` where the pixel has no data that year; ``tasgen_changed`` is TasGen's own
    change flag before corrections (what the attribution explains); ``score`` is NaN where TasGen
    did not run. A label's own year keeps its label (``ml.review.keep_reference_year``);
    ``suggested`` holds TasGen's class there where it disagrees ("label may be wrong", for review).
    Stored as an ``.npz`` with these field names (:meth:`to_arrays` / :meth:`from_arrays`).
    """

    label_pk: np.ndarray  # (S,) int64 label id
    lon: np.ndarray  # (S,) float64
    lat: np.ndarray  # (S,) float64
    years: np.ndarray  # (Y,) int
    valid: np.ndarray  # (S, Y) bool: the pixel has ESD data that year
    static: np.ndarray  # (S,) str static class
    klass: np.ndarray  # (S, Y) str dynamic class
    changed: np.ndarray  # (S, Y) bool: dynamic class differs from the static one
    tasgen_changed: np.ndarray  # (S, Y) bool: TasGen's change flag before corrections
    threshold: np.ndarray  # (S,) float64 anomaly threshold of each pixel (stage 1 flags score > it)
    value: np.ndarray  # (S, Y) float64 value of reviewing each pixel-year (``DynamicSamples.review_value``)
    answered: np.ndarray  # (S, Y) bool: a reviewer's answer set the class
    ref_index: np.ndarray  # (S,) index into ``years`` of each pixel's reference (label) year
    suggested: np.ndarray  # (S,) str TasGen's class in the reference year where it disagrees, else ""
    score: np.ndarray  # (S, Y) float64 anomaly score (NaN where TasGen did not run)
    confidence: np.ndarray  # (S, Y) float64 in [0, 1]
    warnings: np.ndarray  # (k,) str messages for the user

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fields as a dict of arrays, in field order (what ``np.savez`` stores)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> DynamicLabels:
        return cls(**{f.name: arrays[f.name] for f in fields(cls)})


def tasgen_input(
    data: dict[str, np.ndarray], static: np.ndarray, reference_year: np.ndarray, config: TasGenConfig
) -> TasGenInput:
    """Which label pixels TasGen relabels, and their series (the same for relabel and attribution).

    ``data`` is the label lookup (``label_pk``, ``indices (S, Y, 12)``, ``valid (S, Y)``, ``years``);
    ``static (S,)`` and ``reference_year (S,)`` the static class and store year of each pixel's label.
    """
    years = tuple(int(y) for y in data["years"])
    label_pk, valid = data["label_pk"], data["valid"]
    ref = np.clip(
        reference_year, years[0], years[-1]
    )  # a label dated outside the span describes its nearest year
    ref_idx = np.searchsorted(np.asarray(years), ref)
    usable = valid[np.arange(len(ref)), ref_idx]
    warnings: list[str] = []
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


def compute_dynamic(
    ti: TasGenInput,
    config: TasGenConfig,
    seed: int,
    corrections: Mapping[int, Mapping[str, str]],
    model: TasGenModel | None = None,
) -> tuple[DynamicLabels, TasGenModel | None]:
    """Fit (unless ``model`` is given: applying reviews re-uses the fit) and apply TasGen without
    attribution, keep each label's own year, copy static classes where TasGen does not run; returns
    the labels and the model (None when TasGen did not run: fewer than 2 classes).

    Reviewers' answers (``corrections``: ``{label id: {year: class}}``) refit TasGen's stage 2
    (``refit_with_reviews``: the other years learn from them) and hold for their own years.
    """
    data, years, static, run = ti.data, ti.years, ti.static, ti.run
    label_pk, valid = data["label_pk"], data["valid"]
    n, y = valid.shape
    klass = np.full((n, y), "", dtype=object)
    changed = np.zeros((n, y), dtype=bool)
    score = np.full((n, y), np.nan, dtype=np.float64)
    conf = np.zeros((n, y), dtype=np.float64)
    threshold = np.full(n, np.nan, dtype=np.float64)
    value = np.zeros((n, y), dtype=np.float64)
    answers = review_answers(label_pk, years, valid, corrections)
    if ti.series is None:
        model = None
    else:
        try:
            if model is None:
                model = fit_tasgen(ti.series, config, seed)
            reviews = answers[run].astype(str)
            if (reviews != "").any():  # stage 2 learns from the answers, then they are kept as given
                reviewed_model = refit_with_reviews(model, ti.series, reviews, seed)
                out = apply_tasgen(reviewed_model, ti.series, seed, attribute=False, reviews=reviews)
            else:
                out = apply_tasgen(model, ti.series, seed, attribute=False)
        except MLError as exc:
            raise DynamicLabelsError(f"TasGen could not relabel these samples: {exc}") from exc
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
    dyn = DynamicLabels(
        label_pk=label_pk,
        lon=data["lon"],
        lat=data["lat"],
        years=np.asarray(years),
        valid=valid,
        static=static,
        klass=klass.astype(str),
        changed=changed,
        tasgen_changed=tasgen_changed,
        threshold=threshold,
        value=value,
        answered=answered,
        ref_index=ti.ref_index,
        suggested=kept.suggested,
        score=score,
        confidence=conf,
        warnings=np.asarray(ti.warnings, dtype=str),
    )
    return dyn, model


def review_answers(
    label_pk: np.ndarray,
    years: tuple[int, ...],
    valid: np.ndarray,
    corrections: Mapping[int, Mapping[str, str]],
) -> np.ndarray:
    """``(S, Y)`` the reviewers' class of each label pixel-year (``""``: not answered or no data)."""
    out = np.full(valid.shape, "", dtype=object)
    for i, pk in enumerate(label_pk):
        for yr, cls in (corrections.get(int(pk)) or {}).items():
            if int(yr) in years and valid[i, years.index(int(yr))]:
                out[i, years.index(int(yr))] = str(cls)
    return out


Decode = Callable[[np.ndarray], np.ndarray]  # codes (..., 12, 6) -> reflectance (..., 12, B)


def compute_attribution(
    model: TasGenModel | None,
    ti: TasGenInput,
    dyn: DynamicLabels,
    seed: int,
    decode: Decode | None = None,
    band_names: tuple[str, ...] = DIM_NAMES,
) -> dict[str, np.ndarray]:
    """Gibbs attribution of TasGen's changed sample-years from the fitted model and its output.

    ``att_month (S, Y, 12)``, ``att_dim (S, Y, B)`` float32 and ``band_names (B,)``: told in the
    spectral bands ``band_names`` of the store's decoder ``decode`` (``attribute_changes_decoded``)
    when one is given, else in the embedding dimensions c0..c5. Zeros where TasGen did not run
    (``model`` None) or saw no change.
    """
    names = band_names if decode is not None else DIM_NAMES
    n, y = dyn.valid.shape
    att_m = np.zeros((n, y, 12), dtype=np.float32)
    att_d = np.zeros((n, y, len(names)), dtype=np.float32)
    if model is not None:
        run, series = ti.run, ti.series
        if series is None:
            raise DynamicLabelsError(
                "the stored TasGen model does not match these labels; run the analysis again"
            )
        try:
            if decode is not None:
                month, dim = attribute_changes_decoded(
                    model, series, dyn.tasgen_changed[run], dyn.score[run], decode, seed=seed
                )
            else:
                month, dim = attribute_changes(
                    model, series, dyn.tasgen_changed[run], dyn.score[run], seed=seed
                )
        except MLError as exc:
            raise DynamicLabelsError(f"TasGen could not explain the changes: {exc}") from exc
        att_m[run] = month
        att_d[run] = dim
    return {"att_month": att_m, "att_dim": att_d, "band_names": np.asarray(names, dtype=str)}


def attribution_summary(
    month: np.ndarray, dim: np.ndarray, names: tuple[str, ...] = DIM_NAMES
) -> dict[str, Any]:
    """``{"months", "bands", "top_months", "top_bands"}``: shares by month and by band (``names``) and
    the top 3 of each; ``{}`` when nothing is attributed."""
    if float(month.sum()) <= 0:
        return {}
    return {
        "months": {MONTHS[i]: round(float(v), 4) for i, v in enumerate(month)},
        "bands": {names[i]: round(float(v), 4) for i, v in enumerate(dim)},
        "top_months": [MONTHS[i] for i in np.argsort(-month)[:3] if month[i] > 0],
        "top_bands": [names[i] for i in np.argsort(-dim)[:3] if dim[i] > 0],
    }


def label_years(
    dyn: DynamicLabels,
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, str]]:
    """Per label and year with data: (label pk, year index, pixel rows, rows with a class, rows
    agreeing with the vote, vote: the majority class of the label's pixels that year)."""
    label_pk = dyn.label_pk
    for pk in dict.fromkeys(int(p) for p in label_pk):
        idx = np.flatnonzero(label_pk == pk)
        for j in range(len(dyn.years)):
            ok = idx[dyn.valid[idx, j] & (dyn.klass[idx, j] != "")]
            if ok.size == 0:
                continue
            vote = Counter(dyn.klass[ok, j]).most_common(1)[0][0]
            yield pk, j, idx, ok, ok[dyn.klass[ok, j] == vote], str(vote)


def sample_attributions(
    dyn: DynamicLabels, att: Mapping[str, np.ndarray]
) -> dict[tuple[int, int], dict[str, Any]]:
    """``{(label pk, year): attribution}`` of the samples with one (the mean over agreeing pixels)."""
    years = [int(y) for y in dyn.years]
    names = tuple(str(b) for b in att["band_names"]) if "band_names" in att else DIM_NAMES
    out = {}
    for pk, j, _, _, agree, _ in label_years(dyn):
        value = attribution_summary(
            att["att_month"][agree, j].mean(axis=0), att["att_dim"][agree, j].mean(axis=0), names
        )
        if value:
            out[(pk, years[j])] = value
    return out
