"""TasGen end to end: static labels + multi-year series -> dynamic samples (one class per sample-year).

Public entry point for the app: :func:`run_tasgen` (fit on the given series and apply to it). For
held-out evaluation, :func:`fit_tasgen` and :func:`apply_tasgen` split the two steps.

Fit (stage 1, self-training):
1. standardize every dimension with the mean/std of all valid sample-years;
2. round 0: train the HTS-VAE on the reference-year sample-years with their static classes;
3. rounds 1..R-1: score, calibrate per-class thresholds (``ml.tasgen.detect``), retrain from scratch on
   the reference years under threshold plus (``use_normal_years``) the other years under threshold;
4. final thresholds from the scores of *all* valid sample-years of each class (``calibrate_on="all"``,
   or its reference years only) under the final model.
The score of a sample-year (robust sigmas) is ``z(negative ELBO under its static class)`` plus
``drift_weight * z(distance of its posterior-mean latent to its reference year's)``, each ``z`` a
per-class median/MAD standardization; the drift term is 0 on the reference year.
Fit (stage 2): a classifier (default: multinomial logistic regression) on the stable sample-years
(valid, under threshold) with their static class, plus out-of-fold probabilities of those years from
a K-fold grouped by sample (``ml.tasgen.relabel``).
Apply: score every valid sample-year under its static class, re-derive the thresholds on the applied
series (``recalibrate_on_apply``), flag scores above threshold; stage 2 changes a flagged year when
its static class gets a probability < ``unflag_confidence`` and an unflagged one when <
``override_confidence`` (cross-fitted probabilities for the fit's own training years), to the most
probable other class; carry changes forward (``persist_changes``), list change years, attribute
changed years by Gibbs sampling (``ml.tasgen.interpret``; the highest-scoring ``gibbs_max`` changed
years only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import torch

from ml.array_state import json_array, json_value, nest, part, str_tuple
from ml.errors import TasGenError
from ml.tasgen.detect import (
    MAD_TO_SIGMA,
    ClassThresholds,
    calibrate_thresholds,
    change_years,
    flag_anomalies,
)
from ml.tasgen.hts_vae import HTSVAE, HTSVAEConfig, train_hts_vae
from ml.tasgen.interpret import Attribution, decoded_attribution, gibbs_attribution
from ml.tasgen.openset import (
    UNKNOWN,
    ClassReference,
    class_novelty,
    fit_class_reference,
    is_unknown,
    unlike_target,
)
from ml.tasgen.relabel import (
    RELABEL_KINDS,
    Relabeler,
    fit_relabeler,
    relabel_years,
    row_digests,
    year_features,
)
from ml.tasgen.series import MONTHS, DynamicSamples, SampleSeries


@dataclass
class TasGenConfig:
    """Settings of a TasGen run (defaults: ~300 samples x 7 years in well under a minute on 2 cores)."""

    hidden: int = 32  # HTS-VAE conv channels / MLP width
    z1: int = 4  # HTS-VAE lower latent size
    z2: int = 2  # HTS-VAE top latent size
    epochs: int = 300  # HTS-VAE epochs per self-training round (cut by max_steps)
    max_steps: int = 300  # HTS-VAE optimizer steps cap per round (early stopping: longer training
    # lets the VAE reconstruct the changed samples too)
    beta: float = 4.0  # HTS-VAE KL weight (beta-VAE) in loss and score
    batch_size: int = 128  # HTS-VAE batch size (sample-years)
    lr: float = 3e-3  # HTS-VAE Adam learning rate
    rounds: int = 2  # self-training rounds (1 = train once on all reference years)
    use_normal_years: bool = True  # after round 0, also train on non-reference years under threshold
    max_train_years: int = 6000  # cap on sample-years per round (random subset above it)
    threshold_k: float = 1.5  # threshold = median + k * 1.4826 * MAD of the class's sample-year scores
    calibrate_on: str = "all"  # "all" valid sample-years of the class, or "reference" years only
    recalibrate_on_apply: bool = True  # apply re-derives the thresholds from the applied series' own
    # scores (same rule, static labels only) for classes with >= min_class_samples samples there
    min_class_samples: int = 5  # fewer samples of a static class -> TasGenError
    relabel_model: str = "logistic"  # stage-2 classifier: "logistic" (multinomial, L2) or "forest"
    relabel_c: float = 0.03  # inverse L2 strength of the logistic stage 2 (features standardized)
    rf_trees: int = 200  # stage-2 random forest size (relabel_model="forest")
    crossfit_folds: int = 5  # grouped K-fold for out-of-fold stage-2 probabilities of the fit's own
    # training years (0 = in-sample probabilities)
    unflag_confidence: float = 0.6  # flagged year kept as its static class when stage 2 gives >= this
    override_confidence: float = 0.2  # unflagged year changes when stage 2 gives its static class < this
    # (0 = only flagged years can change)
    feedback_vae: bool = False  # rounds >= 1 leave out of the HTS-VAE training the years that stage 2
    # (cross-fitted) would change, as well as the flagged ones
    feedback_stage2: bool = True  # the final stage 2 is refitted without the stable years its own
    # cross-fitted probabilities would change
    gibbs_max: int = 50  # at most this many changed sample-years are attributed (highest scores first)
    gibbs_sweeps: int = 10  # Gibbs sweeps over all cells
    gibbs_burn_in: int = 3  # sweeps discarded before averaging
    persist_changes: bool = True  # carry a change to later stable years stage 2 scores as the new class
    drift_weight: float = 1.0  # weight of the latent drift from the sample's reference year in the score
    anchor_stage2: bool = True  # stage 2 is first fitted on the reference years alone (the only years
    # the static labels state); other years it gives their static class < anchor_confidence are left
    # out of stage 2's training (changes the stage-1 score missed, e.g. a new crop in another year)
    anchor_confidence: float = 0.15  # see anchor_stage2 (development seeds, docs/benchmarks/tasgen.md)
    open_set: bool = True  # a year unlike its static class and every class becomes ``unknown``
    novelty_threshold: float = (
        12.0  # open-set rule: k-NN novelty (robust sigmas) above this under every class
    )
    novelty_k: int = 5  # neighbours of the open-set novelty
    target_novelty_threshold: float = 4.0  # open-set rule for changed years: unknown when the novelty
    # under the class they move to is above this (robust sigmas; 0 = off; docs/tasgen.md step 8c)
    review_weight: int = 1  # refit_with_reviews: a reviewed year counts as this many training years
    reference_ratio: float = 0.5  # a non-reference year changes only when stage 2 gives its static class
    # less than this times what it gives the sample's own reference year (0 = off): a location that
    # looks atypical for its class in the year its label is true in is not "changed" in the others
    gibbs_temperature: float = 0.1  # Gibbs temperature (robust sigmas of anomaly score)
    gibbs_cost: float = 0.1  # price of one restored cell (robust sigmas of anomaly score)
    torch_threads: int = 1  # torch.set_num_threads for the run (0 = leave as is); small nets run best on 1


MODEL_FORMAT = "tasgen-model/1"  # TasGenModel.to_arrays layout; change it when the layout changes


@dataclass
class TasGenModel:
    """A fitted TasGen model; applies to series whose static classes are among ``classes``."""

    classes: tuple[str, ...]  # (C,) sorted class names
    dim_names: tuple[str, ...]  # (D,) dimension names of the training series
    mean: np.ndarray  # (D,) standardization mean
    std: np.ndarray  # (D,) standardization std
    vae: HTSVAE  # stage-1 model
    scale: ScoreScale  # robust standardization of the two score terms
    thresholds: ClassThresholds  # per-class anomaly thresholds (on the combined score)
    relabeler: Relabeler  # stage-2 classifier
    normal_pattern: np.ndarray  # (C, 12, D) standardized median stable year of each class
    config: TasGenConfig  # settings used
    history: list[list[float]]  # per round, the training negative ELBO of each epoch
    stage2_features: np.ndarray | None = None  # (M, F) year features stage 2 was trained on
    stage2_labels: np.ndarray | None = None  # (M,) their class indices (into classes + extra_classes)
    extra_classes: tuple[str, ...] = ()  # classes named by reviews, after ``classes`` in stage 2's columns
    reference: ClassReference | None = None  # open-set reference rows (stage 2's training rows per class)

    @property
    def all_classes(self) -> tuple[str, ...]:
        """Stage 2's class columns: the static label set, then classes named by reviewers."""
        return self.classes + self.extra_classes

    def standardize(self, values: np.ndarray) -> np.ndarray:
        """``values (..., 12, D)`` in standardized units (NaN kept)."""
        return ((values - self.mean) / self.std).astype(np.float32)

    def class_index(self, static_class: np.ndarray, name: str = "static_class") -> np.ndarray:
        """(N,) int index into ``classes``; :class:`TasGenError` naming unknown classes."""
        lookup = {c: i for i, c in enumerate(self.classes)}
        unknown = sorted({str(c) for c in static_class if str(c) not in lookup})
        if unknown:
            raise TasGenError(f"{name}: unknown classes {unknown}; the model knows {list(self.classes)}")
        return np.array([lookup[str(c)] for c in static_class], dtype=np.int64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted model as plain arrays under dotted keys (an ``.npz`` read without pickle).

        :meth:`from_arrays` rebuilds a model that gives bit-identical outputs; no class name is
        stored, so renaming or moving a class cannot break a stored model.
        """
        out: dict[str, np.ndarray] = {
            "format": np.asarray(MODEL_FORMAT),
            "config": json_array(asdict(self.config)),
            "classes": np.asarray(self.classes, dtype=str),
            "extra_classes": np.asarray(self.extra_classes, dtype=str),
            "dim_names": np.asarray(self.dim_names, dtype=str),
            "mean": self.mean,
            "std": self.std,
            "normal_pattern": self.normal_pattern,
            "history.values": np.asarray([v for h in self.history for v in h], dtype=np.float64),
            "history.lengths": np.asarray([len(h) for h in self.history], dtype=np.int64),
            **nest("vae.", self.vae.to_arrays()),
            **nest("scale.", {f.name: getattr(self.scale, f.name) for f in fields(ScoreScale)}),
            **nest("thresholds.", self.thresholds.to_arrays()),
            **nest("relabeler.", self.relabeler.to_arrays()),
        }
        if self.stage2_features is not None and self.stage2_labels is not None:
            out["stage2_features"], out["stage2_labels"] = self.stage2_features, self.stage2_labels
        if self.reference is not None:
            out.update(nest("reference.", self.reference.to_arrays()))
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> TasGenModel:
        """The model :meth:`to_arrays` stored; :class:`TasGenError` when the arrays do not hold one of
        this format (e.g. written by another version: a cache miss for the caller)."""
        try:
            found = str(arrays["format"][()])
            if found != MODEL_FORMAT:
                raise TasGenError(f"stored TasGen model has format {found!r}, expected {MODEL_FORMAT!r}")
            ends = np.cumsum(arrays["history.lengths"])
            history = [
                [float(v) for v in arrays["history.values"][e - n : e]]
                for e, n in zip(ends, arrays["history.lengths"], strict=True)
            ]
            return cls(
                classes=str_tuple(arrays["classes"]),
                dim_names=str_tuple(arrays["dim_names"]),
                mean=arrays["mean"],
                std=arrays["std"],
                vae=HTSVAE.from_arrays(part(arrays, "vae.")),
                scale=ScoreScale(**part(arrays, "scale.")),
                thresholds=ClassThresholds.from_arrays(part(arrays, "thresholds.")),
                relabeler=Relabeler.from_arrays(part(arrays, "relabeler.")),
                normal_pattern=arrays["normal_pattern"],
                config=TasGenConfig(**json_value(arrays["config"])),
                history=history,
                stage2_features=arrays.get("stage2_features"),
                stage2_labels=arrays.get("stage2_labels"),
                extra_classes=str_tuple(arrays["extra_classes"]),
                reference=(
                    ClassReference.from_arrays(part(arrays, "reference."))
                    if "reference.median" in arrays
                    else None
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:  # ModelError and TasGenError are ValueErrors
            raise TasGenError(f"stored TasGen model cannot be loaded: {exc}") from exc


@dataclass(frozen=True)
class ScoreScale:
    """Per-class robust centre and spread (median, 1.4826 * MAD) of the two anomaly-score terms."""

    elbo_median: np.ndarray  # (C,) nats
    elbo_sigma: np.ndarray  # (C,) nats
    drift_median: np.ndarray  # (C,) latent units, over non-reference years (0 when there are none)
    drift_sigma: np.ndarray  # (C,) latent units (1 when there are no non-reference years)


def _robust(v: np.ndarray) -> tuple[float, float]:
    if len(v) == 0:
        return 0.0, 1.0
    med = float(np.median(v))
    return med, max(MAD_TO_SIGMA * float(np.median(np.abs(v - med))), 1e-6)


def _terms(
    vae: HTSVAE, x: np.ndarray, cls_ny: np.ndarray, valid: np.ndarray, ref: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(elbo (N, Y) nats, drift (N, Y), non_ref (N, Y) bool) for the valid sample-years.

    ``drift`` is the Euclidean distance between the year's posterior-mean latent and that of the
    sample's reference year (0 for the reference year itself); NaN where not valid.
    """
    n, y = valid.shape
    idx = np.argwhere(valid)
    xs, cs = x[idx[:, 0], idx[:, 1]], cls_ny[idx[:, 0], idx[:, 1]]
    elbo = np.full((n, y), np.nan)
    elbo[valid] = vae.score(xs, cs)
    lat = np.zeros((n, y, vae.config.z1 + vae.config.z2), dtype=np.float32)
    lat[valid] = vae.latent(xs, cs)
    drift = np.linalg.norm(lat - lat[np.arange(n), ref][:, None], axis=2)
    drift = np.where(valid, drift, np.nan)
    non_ref = valid.copy()
    non_ref[np.arange(n), ref] = False
    return elbo, drift, non_ref


def _fit_scale(
    elbo: np.ndarray,
    drift: np.ndarray,
    non_ref: np.ndarray,
    valid: np.ndarray,
    cls_ny: np.ndarray,
    n_classes: int,
) -> ScoreScale:
    em, es, dm, ds = (np.zeros(n_classes) for _ in range(4))
    for ci in range(n_classes):
        em[ci], es[ci] = _robust(elbo[valid & (cls_ny == ci)])
        dm[ci], ds[ci] = _robust(drift[non_ref & (cls_ny == ci)])
    return ScoreScale(em, es, dm, ds)


def _combine(
    scale: ScoreScale,
    elbo: np.ndarray,
    drift: np.ndarray,
    non_ref: np.ndarray,
    cls: np.ndarray,
    weight: float,
) -> np.ndarray:
    """Anomaly score in robust sigmas: z(ELBO) + weight * z(drift) (the drift term only off the reference year)."""
    z_elbo = (elbo - scale.elbo_median[cls]) / scale.elbo_sigma[cls]
    z_drift = (drift - scale.drift_median[cls]) / scale.drift_sigma[cls]
    return z_elbo + weight * np.where(non_ref, z_drift, 0.0)


def _check_counts(series: SampleSeries, min_count: int) -> tuple[str, ...]:
    classes, counts = np.unique(series.static_class.astype(str), return_counts=True)
    few = [f"{str(c)!r} ({n})" for c, n in zip(classes, counts, strict=True) if n < min_count]
    if few:
        raise TasGenError(
            f"static_class: too few samples of classes {', '.join(few)}; need at least {min_count} each"
        )
    if len(classes) < 2:
        raise TasGenError(f"static_class: need at least 2 classes to relabel, got {list(classes)}")
    return tuple(str(c) for c in classes)


def fit_tasgen(series: SampleSeries, config: TasGenConfig | None = None, seed: int = 0) -> TasGenModel:
    """Fit both TasGen stages on ``series`` using only its static classes and reference years."""
    config = config or TasGenConfig()
    series.validate("series")
    if config.calibrate_on not in ("all", "reference"):
        raise TasGenError(f"calibrate_on must be 'all' or 'reference', got {config.calibrate_on!r}")
    if config.relabel_model not in RELABEL_KINDS:
        raise TasGenError(f"relabel_model must be one of {list(RELABEL_KINDS)}, got {config.relabel_model!r}")
    classes = _check_counts(series, config.min_class_samples)
    if config.torch_threads > 0:
        torch.set_num_threads(config.torch_threads)
    rng = np.random.default_rng(seed)
    vals = series.values[series.valid]  # (V, 12, D)
    mean = vals.mean(axis=(0, 1))
    std = np.maximum(vals.std(axis=(0, 1)), 1e-6)
    lookup = {c: i for i, c in enumerate(classes)}
    cls = np.array([lookup[str(c)] for c in series.static_class], dtype=np.int64)
    x = ((series.values - mean) / std).astype(np.float32)
    x = np.where(series.valid[:, :, None, None], x, 0.0).astype(np.float32)
    n, y = series.valid.shape
    ref = series.reference_index
    is_ref = np.zeros((n, y), dtype=bool)
    is_ref[np.arange(n), ref] = True
    cls_ny = np.broadcast_to(cls[:, None], (n, y))
    vae_cfg = HTSVAEConfig(
        n_dims=series.n_dims,
        n_classes=len(classes),
        hidden=config.hidden,
        z1=config.z1,
        z2=config.z2,
        epochs=config.epochs,
        max_steps=config.max_steps,
        beta=config.beta,
        batch_size=config.batch_size,
        lr=config.lr,
    )
    train_mask = is_ref.copy()
    history: list[list[float]] = []
    vae: HTSVAE | None = None
    thresholds: ClassThresholds | None = None
    scores = np.full((n, y), np.nan)
    scale: ScoreScale | None = None
    for r in range(max(1, config.rounds)):
        idx = np.argwhere(train_mask)
        if len(idx) > config.max_train_years:
            idx = idx[rng.choice(len(idx), config.max_train_years, replace=False)]
        vae, hist = train_hts_vae(x[idx[:, 0], idx[:, 1]], cls_ny[idx[:, 0], idx[:, 1]], vae_cfg, seed + r)
        history.append(hist)
        elbo, drift, non_ref = _terms(vae, x, cls_ny, series.valid, ref)
        scale = _fit_scale(elbo, drift, non_ref, series.valid, cls_ny, len(classes))
        scores = _combine(scale, elbo, drift, non_ref, cls_ny, config.drift_weight)
        calib = is_ref if config.calibrate_on == "reference" else series.valid
        thresholds = calibrate_thresholds(scores[calib], cls_ny[calib], classes, config.threshold_k)
        normal = series.valid & ~flag_anomalies(scores, cls_ny, thresholds)
        if config.feedback_vae and r < max(1, config.rounds) - 1:
            normal = _confirmed(x, normal, cls_ny, len(classes), seed, config, refit=False)[0]
        train_mask = normal if config.use_normal_years else (normal & is_ref)
        _ensure_each_class(train_mask, cls, classes)
    if vae is None or thresholds is None or scale is None:
        raise TasGenError(f"rounds must be >= 1, got {config.rounds}")
    stable = series.valid & ~flag_anomalies(scores, cls_ny, thresholds)
    if config.anchor_stage2:
        stable = _anchored(x, stable, is_ref, cls_ny, len(classes), seed, config)
    relabeler = _fit_stage2(x, stable, cls_ny, len(classes), seed, config)
    if config.feedback_stage2:
        stable, relabeler = _confirmed(x, stable, cls_ny, len(classes), seed, config, relabeler)
    feats = year_features(x[stable])
    labels = cls_ny[stable]
    reference = (
        fit_class_reference(feats, labels, len(classes), config.novelty_k) if config.open_set else None
    )
    normal_pattern = np.zeros((len(classes), MONTHS, series.n_dims), dtype=np.float32)
    for ci in range(len(classes)):
        normal_pattern[ci] = np.median(x[stable & (cls_ny == ci)], axis=0)
    return TasGenModel(
        classes=classes,
        dim_names=series.dim_names,
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        vae=vae,
        scale=scale,
        thresholds=thresholds,
        relabeler=relabeler,
        normal_pattern=normal_pattern,
        config=config,
        history=history,
        stage2_features=feats,
        stage2_labels=labels,
        reference=reference,
    )


def _fit_stage2(
    x: np.ndarray, mask: np.ndarray, cls_ny: np.ndarray, n_classes: int, seed: int, config: TasGenConfig
) -> Relabeler:
    """Stage 2 fitted on the ``mask`` sample-years with their static class (cross-fitted by sample)."""
    return fit_relabeler(
        year_features(x[mask]),
        cls_ny[mask],
        n_classes,
        seed,
        n_trees=config.rf_trees,
        kind=config.relabel_model,
        c=config.relabel_c,
        groups=np.argwhere(mask)[:, 0],
        folds=config.crossfit_folds,
    )


def _confirmed(
    x: np.ndarray,
    mask: np.ndarray,
    cls_ny: np.ndarray,
    n_classes: int,
    seed: int,
    config: TasGenConfig,
    relabeler: Relabeler | None = None,
    refit: bool = True,
) -> tuple[np.ndarray, Relabeler]:
    """``mask`` without the years whose cross-fitted stage-2 probability of the static class is below
    ``override_confidence`` (stage 2 would change them), and (``refit``) stage 2 refitted on what is left.

    Classes that would lose all their years keep them (nothing else describes them). The refitted
    classifier keeps the out-of-fold probabilities of the first fit for the years left in (held out
    from their fold's model all the same; one cross-fit instead of two keeps the fit fast).
    """
    rel = relabeler if relabeler is not None else _fit_stage2(x, mask, cls_ny, n_classes, seed, config)
    if config.override_confidence <= 0:
        return mask, rel
    proba = rel.proba(year_features(x[mask]))
    keep = proba[np.arange(len(proba)), cls_ny[mask]] >= config.override_confidence
    out = mask.copy()
    out[mask] = keep
    for ci in range(n_classes):
        if not out[cls_ny == ci].any():
            out[(cls_ny == ci) & mask] = True
    if out.sum() == mask.sum() or not refit:
        return out, rel
    model = _fit_stage2(x, out, cls_ny, n_classes, seed, replace(config, crossfit_folds=0)).model
    kept = row_digests(year_features(x[out]))
    crossfit = {d: rel.crossfit[d] for d in kept if d in rel.crossfit}
    return out, Relabeler(model=model, n_classes=n_classes, crossfit=crossfit)


def _anchored(
    x: np.ndarray,
    stable: np.ndarray,
    is_ref: np.ndarray,
    cls_ny: np.ndarray,
    n_classes: int,
    seed: int,
    config: TasGenConfig,
) -> np.ndarray:
    """``stable`` without the non-reference years that a stage 2 fitted on the stable *reference*
    years alone gives their static class a probability < ``anchor_confidence``.

    The static labels state the class of the reference years only; the other years enter stage 2's
    training because stage 1 found them normal. A change stage 1 misses (a new crop that is a normal
    crop pattern, just not this class's) would teach stage 2 the new look as the old class; the
    reference-year classifier, which never saw those years, catches most of them. No-op when the
    reference years miss a class or there are no other years.
    """
    anchor = stable & is_ref
    other = stable & ~is_ref
    if not other.any() or len(np.unique(cls_ny[anchor])) < 2:
        return stable
    rel = _fit_stage2(x, anchor, cls_ny, n_classes, seed, replace(config, crossfit_folds=0))
    proba = rel.proba(year_features(x[other]), crossfit=False)
    keep = proba[np.arange(len(proba)), cls_ny[other]] >= config.anchor_confidence
    out = stable.copy()
    out[other] = keep
    return out


def _ensure_each_class(mask: np.ndarray, cls: np.ndarray, classes: tuple[str, ...]) -> None:
    for ci, name in enumerate(classes):
        if not mask[cls == ci].any():
            raise TasGenError(f"class {name!r}: every sample-year is anomalous; cannot learn its pattern")


def _recalibrated(
    model: TasGenModel, series: SampleSeries, scores: np.ndarray, cls_ny: np.ndarray
) -> ClassThresholds:
    """The model's thresholds, re-derived from ``scores`` for classes with enough samples in ``series``.

    Same rule and calibration set (all valid years or reference years) as at fit time; classes with
    fewer than ``min_class_samples`` samples in ``series`` keep the fitted threshold.
    """
    cfg = model.config
    t = model.thresholds
    med, sig = t.median.copy(), t.sigma.copy()
    n, y = series.valid.shape
    calib = series.valid.copy()
    if cfg.calibrate_on == "reference":
        calib = np.zeros((n, y), dtype=bool)
        calib[np.arange(n), series.reference_index] = True
    for ci in range(len(model.classes)):
        if int((cls_ny[:, 0] == ci).sum()) < cfg.min_class_samples:
            continue
        part = calibrate_thresholds(
            scores[calib & (cls_ny == ci)],
            np.zeros(int((calib & (cls_ny == ci)).sum()), dtype=np.int64),
            ("c",),
            t.k,
        )
        med[ci], sig[ci] = part.median[0], part.sigma[0]
    return ClassThresholds(classes=t.classes, median=med, sigma=sig, k=t.k, threshold=med + t.k * sig)


def _persist(
    klass_idx: np.ndarray,
    changed: np.ndarray,
    confidence: np.ndarray,
    proba: np.ndarray,
    valid: np.ndarray,
    cls: np.ndarray,
    ref: np.ndarray,
) -> None:
    """Carry a detected change forward (in place): after the first changed year ``t`` > reference, a
    later valid stable year takes the changed class ``b`` when the stage-2 classifier gives ``b`` a higher
    probability than the static class (``proba (V, C)`` rows follow ``valid``'s row-major order)."""
    rows = np.full(valid.shape, -1)
    rows[valid] = np.arange(int(valid.sum()))
    for i in np.flatnonzero((changed & (np.arange(valid.shape[1]) > ref[:, None])).any(1)):
        b = -1
        for j in range(ref[i] + 1, valid.shape[1]):
            if not valid[i, j]:
                continue
            if changed[i, j]:
                b = int(klass_idx[i, j])
            elif b >= 0:
                p = proba[rows[i, j]]
                if p[b] > p[cls[i]]:
                    klass_idx[i, j], changed[i, j], confidence[i, j] = b, True, p[b]


def apply_tasgen(
    model: TasGenModel,
    series: SampleSeries,
    seed: int = 0,
    attribute: bool = True,
    reviews: np.ndarray | None = None,
) -> DynamicSamples:
    """Dynamic samples of ``series`` under a fitted ``model`` (static classes must be known to it).

    ``attribute=False`` leaves the attributions at 0 (a caller that attributes later, elsewhere, with
    :func:`attribute_changes` on the same model, series and output gets the same numbers).
    ``reviews (N, Y)`` str: a reviewer's class per sample-year (``""`` = not reviewed); a reviewed
    year keeps its answer (confidence 1), whatever the model says. Fold the answers into the model
    first with :func:`refit_with_reviews` so that the other years learn from them.
    """
    series.validate("series")
    if series.dim_names != model.dim_names:
        raise TasGenError(
            f"series dims {list(series.dim_names)} differ from the model's {list(model.dim_names)}"
        )
    cfg = model.config
    if cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    cls = model.class_index(series.static_class)
    n, y = series.valid.shape
    valid = series.valid
    x = np.where(valid[:, :, None, None], model.standardize(series.values), 0.0).astype(np.float32)
    cls_ny = np.broadcast_to(cls[:, None], (n, y))
    ref_all = series.reference_index
    elbo, drift, non_ref = _terms(model.vae, x, cls_ny, valid, ref_all)
    scores = _combine(model.scale, elbo, drift, non_ref, cls_ny, cfg.drift_weight)
    thresholds = (
        _recalibrated(model, series, scores, cls_ny) if cfg.recalibrate_on_apply else model.thresholds
    )
    flags = flag_anomalies(scores, cls_ny, thresholds) & valid
    names = np.array(model.all_classes + (UNKNOWN,))
    unknown_idx = len(model.all_classes)
    klass_idx = np.where(valid, cls_ny, -1)
    changed = np.zeros((n, y), dtype=bool)
    confidence = np.zeros((n, y))
    p_static = np.full((n, y), np.nan)
    feats = year_features(x[valid])
    proba = model.relabeler.proba(feats)
    k, ch, conf = relabel_years(
        proba, cls_ny[valid], flags[valid], cfg.unflag_confidence, cfg.override_confidence
    )
    klass_idx[valid], changed[valid], confidence[valid] = k, ch, conf
    p_static[valid] = proba[np.arange(len(proba)), cls_ny[valid]]
    if cfg.reference_ratio > 0 and y > 1:
        p_ref = p_static[np.arange(n), ref_all]
        keep_static = changed & non_ref & (p_static >= cfg.reference_ratio * p_ref[:, None])
        klass_idx[keep_static], changed[keep_static] = cls_ny[keep_static], False
        confidence[keep_static] = p_static[keep_static]
    if cfg.persist_changes and y > 1:
        _persist(klass_idx, changed, confidence, proba, valid, cls, series.reference_index)
    unknown = np.zeros((n, y), dtype=bool)
    if cfg.open_set and model.reference is not None:
        novelty = class_novelty(model.reference, feats)
        unknown[valid] = is_unknown(novelty, cls_ny[valid], cfg.novelty_threshold)
        if cfg.target_novelty_threshold > 0:
            # a class a reviewer named is known to exist: only moves to the label set's classes count
            to_label_set = changed[valid] & (klass_idx[valid] < len(model.classes))
            unknown[valid] |= unlike_target(
                novelty, klass_idx[valid], to_label_set, cfg.target_novelty_threshold
            )
        klass_idx[unknown], changed[unknown] = unknown_idx, True
        confidence[unknown] = 1.0 - proba[unknown[valid]].max(1)
    if reviews is not None:
        _apply_reviews(reviews, series, names, klass_idx, changed, confidence, unknown)
    klass = np.where(klass_idx >= 0, names[np.maximum(klass_idx, 0)], "")
    if attribute:
        attr_m, attr_d = attribute_changes(model, series, changed, scores, thresholds, seed)
    else:
        attr_m, attr_d = np.zeros((n, y, MONTHS)), np.zeros((n, y, series.n_dims))
    return DynamicSamples(
        years=series.years,
        klass=klass,
        changed=changed,
        anomaly_score=scores,
        threshold=thresholds.threshold[cls],
        confidence=np.where(valid, confidence, np.nan),
        attribution_month=attr_m,
        attribution_dim=attr_d,
        change_years=change_years(klass, series.years),
        p_static=p_static,
        unknown=unknown,
    )


def _apply_reviews(
    reviews: np.ndarray,
    series: SampleSeries,
    names: np.ndarray,
    klass_idx: np.ndarray,
    changed: np.ndarray,
    confidence: np.ndarray,
    unknown: np.ndarray,
) -> None:
    """Reviewed years take their answer (in place); answers must be class names of ``names``."""
    if reviews.shape != series.valid.shape:
        raise TasGenError(f"reviews must be {series.valid.shape}, got {reviews.shape}")
    lookup = {str(c): i for i, c in enumerate(names)}
    done = (reviews != "") & series.valid
    missing = sorted({str(c) for c in reviews[done] if str(c) not in lookup})
    if missing:
        raise TasGenError(f"reviews name classes {missing} the model does not know; refit_with_reviews first")
    for i, j in np.argwhere(done):
        klass_idx[i, j] = lookup[str(reviews[i, j])]
        changed[i, j] = str(reviews[i, j]) != str(series.static_class[i])
        confidence[i, j] = 1.0
        unknown[i, j] = str(reviews[i, j]) == UNKNOWN


REVIEW_REFITS = 3  # at most this many drop-and-refit passes of refit_with_reviews
REVIEW_DROP_BELOW = 0.5  # a training year leaves stage 2 when the refit gives its own label less


def refit_with_reviews(
    model: TasGenModel, series: SampleSeries, reviews: np.ndarray, seed: int = 0
) -> TasGenModel:
    """``model`` with stage 2 (and the open-set reference) refitted on its training years plus the
    reviewed years of ``series`` labelled with their answers.

    ``reviews (N, Y)`` str, ``""`` = not reviewed. An answer naming a class outside the label set
    (e.g. "Soybean-maize" for years the model called ``unknown``) becomes a new stage-2 class
    (``extra_classes``); stage 2's balanced class weights give its few reviewed years their due
    weight. A reviewed year that was one of the training years replaces it. The stage-1 model and
    its thresholds are kept (the reviews say nothing about the static classes' normal patterns
    that the stage-2 classes do not already carry). Answers ``unknown`` are left out of training.
    """
    if model.stage2_features is None or model.stage2_labels is None:
        raise TasGenError("this model keeps no stage-2 training rows; fit it again to use reviews")
    if reviews.shape != series.valid.shape:
        raise TasGenError(f"reviews must be {series.valid.shape}, got {reviews.shape}")
    cfg = model.config
    done = (reviews != "") & series.valid & (reviews != UNKNOWN)
    answers = [str(a) for a in reviews[done]]
    if any(not a.strip() for a in answers):
        raise TasGenError("a review answer is an empty class name")
    extra = list(model.extra_classes)
    for a in answers:
        if a not in model.classes and a not in extra:
            extra.append(a)
    all_classes = model.classes + tuple(extra)
    lookup = {c: i for i, c in enumerate(all_classes)}
    x = np.where(series.valid[:, :, None, None], model.standardize(series.values), 0.0).astype(np.float32)
    r_feats = year_features(x[done])
    r_labels = np.array([lookup[a] for a in answers], dtype=np.int64)
    digests = set(row_digests(r_feats))
    keep = np.array([d not in digests for d in row_digests(model.stage2_features)], dtype=bool)
    reps = max(1, int(cfg.review_weight))  # an answer counts as this many training years
    feats = np.concatenate([model.stage2_features[keep], np.repeat(r_feats, reps, axis=0)])
    labels = np.concatenate([model.stage2_labels[keep], np.repeat(r_labels, reps)])
    reviewed = np.concatenate(
        [np.zeros(int(keep.sum()), dtype=bool), np.ones(reps * len(r_labels), dtype=bool)]
    )

    def fit(rows: np.ndarray) -> Relabeler:
        return fit_relabeler(
            feats[rows],
            labels[rows],
            len(all_classes),
            seed,
            n_trees=cfg.rf_trees,
            kind=cfg.relabel_model,
            c=cfg.relabel_c,
        )

    rows = np.ones(len(labels), dtype=bool)
    fitted = fit(rows)
    for _ in range(REVIEW_REFITS if len(r_labels) else 0):
        # training years that look like the answers more than like their own label leave stage 2:
        # changes stage 1 missed, which the reviewer has just named
        p_own = fitted.proba(feats, crossfit=False)[np.arange(len(labels)), labels]
        drop = rows & ~reviewed & (p_own < REVIEW_DROP_BELOW)
        for ci in range(len(model.classes)):  # a class never loses all its years
            if not (rows & ~drop & (labels == ci)).any():
                drop[labels == ci] = False
        if not drop.any():
            break
        rows = rows & ~drop
        fitted = fit(rows)
    feats, labels = feats[rows], labels[rows]
    row_keys = row_digests(feats)
    first = sorted({d: i for i, d in reversed(list(enumerate(row_keys)))}.values())  # one copy per year
    feats, labels = feats[first], labels[first]
    kept = {row_keys[i] for i in first} - digests  # training years still labelled as before
    crossfit = {d: p for d, p in model.relabeler.crossfit.items() if d in kept}
    crossfit = {d: np.pad(p, (0, len(all_classes) - len(p))) for d, p in crossfit.items()}
    relabeler = Relabeler(model=fitted.model, n_classes=len(all_classes), crossfit=crossfit)
    reference = (
        fit_class_reference(feats, labels, len(all_classes), cfg.novelty_k)
        if model.reference is not None
        else None
    )
    return replace(
        model,
        relabeler=relabeler,
        stage2_features=feats,
        stage2_labels=labels,
        extra_classes=tuple(extra),
        reference=reference,
    )


def _gibbs_changes(
    model: TasGenModel,
    series: SampleSeries,
    changed: np.ndarray,
    scores: np.ndarray,
    thresholds: ClassThresholds | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, Attribution, np.ndarray] | None:
    """(sample index (M,), year index (M,), Gibbs attribution, standardized normal years (M, 12, D))
    of the ``gibbs_max`` highest-scoring changed years; None when there is nothing to attribute."""
    cfg = model.config
    if cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    n, y = series.valid.shape
    ci = np.argwhere(changed)
    if not len(ci) or cfg.gibbs_max <= 0:
        return None
    cls = model.class_index(series.static_class)
    if thresholds is None:
        cls_ny = np.broadcast_to(cls[:, None], (n, y))
        thresholds = (
            _recalibrated(model, series, scores, cls_ny) if cfg.recalibrate_on_apply else model.thresholds
        )
    x = np.where(series.valid[:, :, None, None], model.standardize(series.values), 0.0).astype(np.float32)
    order = np.argsort(-scores[changed], kind="stable")[: cfg.gibbs_max]
    sel = ci[order]
    s_i, s_y = sel[:, 0], sel[:, 1]
    ref = series.reference_index[s_i]
    own_ref = (ref != s_y) & ~changed[s_i, ref]
    normal = np.where(own_ref[:, None, None], x[s_i, ref], model.normal_pattern[cls[s_i]])
    c_sel = cls[s_i]
    ref_lat = model.vae.latent(x[s_i, ref], c_sel)
    off_ref = ref != s_y

    def combined(xs: np.ndarray) -> np.ndarray:
        reps = len(xs) // len(c_sel)
        c_rep = np.tile(c_sel, reps)
        d = np.linalg.norm(model.vae.latent(xs, c_rep) - np.tile(ref_lat, (reps, 1)), axis=1)
        return _combine(
            model.scale, model.vae.score(xs, c_rep), d, np.tile(off_ref, reps), c_rep, cfg.drift_weight
        )

    att = gibbs_attribution(
        combined,
        x[s_i, s_y],
        normal,
        thresholds.median[c_sel],
        sweeps=cfg.gibbs_sweeps,
        burn_in=cfg.gibbs_burn_in,
        temperature=cfg.gibbs_temperature,
        cost=cfg.gibbs_cost,
        seed=seed,
    )
    return s_i, s_y, att, normal


def attribute_changes(
    model: TasGenModel,
    series: SampleSeries,
    changed: np.ndarray,
    scores: np.ndarray,
    thresholds: ClassThresholds | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gibbs attribution of the changed sample-years: ``(N, Y, 12)`` month and ``(N, Y, D)`` dim shares.

    ``changed`` and ``scores`` are :func:`apply_tasgen`'s ``changed`` and ``anomaly_score``;
    ``thresholds`` the ones it used (``None``: re-derived the same way). Only the ``gibbs_max``
    highest-scoring changed years are attributed; the others (and stable years) stay 0. Each changed
    year is restored towards the sample's own reference year where that year is stable, else towards
    the class's normal pattern.
    """
    n, y = series.valid.shape
    attr_m = np.zeros((n, y, MONTHS))
    attr_d = np.zeros((n, y, series.n_dims))
    got = _gibbs_changes(model, series, changed, scores, thresholds, seed)
    if got is not None:
        s_i, s_y, att, _ = got
        attr_m[s_i, s_y] = att.month
        attr_d[s_i, s_y] = att.dim
    return attr_m, attr_d


def attribute_changes_decoded(
    model: TasGenModel,
    series: SampleSeries,
    changed: np.ndarray,
    scores: np.ndarray,
    decode: Callable[[np.ndarray], np.ndarray],
    thresholds: ClassThresholds | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The Gibbs attribution of :func:`attribute_changes` told in *decoded bands* and months.

    ``decode`` maps ESD codes ``(M, 12, D)`` (the series' own units) to physical bands
    ``(M, 12, B)`` (the store's decoder, e.g. blue, red, nir, mir reflectance). Returns
    ``(N, Y, 12)`` month and ``(N, Y, B)`` band shares (sum 1 on attributed changed years, else 0);
    see :func:`ml.tasgen.interpret.decoded_attribution` for how code cells become bands.
    """
    n, y = series.valid.shape
    got = _gibbs_changes(model, series, changed, scores, thresholds, seed)
    if got is None:
        b = decode(np.zeros((1, MONTHS, series.n_dims), dtype=np.float32)).shape[-1]
        return np.zeros((n, y, MONTHS)), np.zeros((n, y, b))
    s_i, s_y, att, normal = got
    raw = series.values[s_i, s_y]
    normal_raw = (normal * model.std + model.mean).astype(np.float32)
    dec = decoded_attribution(decode, raw, normal_raw, att.cell_effect)
    attr_m = np.zeros((n, y, MONTHS))
    attr_b = np.zeros((n, y, dec.band.shape[1]))
    attr_m[s_i, s_y] = dec.month
    attr_b[s_i, s_y] = dec.band
    return attr_m, attr_b


def run_tasgen(series: SampleSeries, config: TasGenConfig | None = None, seed: int = 0) -> DynamicSamples:
    """Fit TasGen on ``series`` (its static labels only) and return its dynamic samples.

    Raises :class:`TasGenError` on invalid input (shapes, NaNs in valid years, reference years without
    data, fewer than ``min_class_samples`` samples of a class, a single class).
    """
    model = fit_tasgen(series, config, seed)
    return apply_tasgen(model, series, seed)
