"""TasGen end to end: static labels + multi-year series -> dynamic samples (one class per sample-year).

Public entry point for the app: :func:`run_tasgen` (fit on the given series and apply to it). For
held-out evaluation, :func:`fit_tasgen` and :func:`apply_tasgen` split the two steps.

Fit (stage 1, self-training):
1. standardize every dimension with the mean/std of all valid sample-years;
2. round 0: train the HTS-VAE on the reference-year sample-years with their static classes;
3. rounds 1..R-1: score, calibrate per-class thresholds (``ml.tasgen.detect``), retrain from scratch on
   the reference years under threshold plus (``use_normal_years``) the other years under threshold;
4. final thresholds from the scores of *all* reference-year sample-years under the final model.
Fit (stage 2): a random forest on the stable sample-years (valid, under threshold) with their static
class (``ml.tasgen.relabel``).
Apply: score every valid sample-year under its static class, flag scores above threshold, relabel the
flagged years (or unflag them), list change years, attribute changed years by Gibbs sampling
(``ml.tasgen.interpret``; the highest-scoring ``gibbs_max`` changed years only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ml.errors import TasGenError
from ml.tasgen.detect import ClassThresholds, calibrate_thresholds, change_years, flag_anomalies
from ml.tasgen.hts_vae import HTSVAE, HTSVAEConfig, train_hts_vae
from ml.tasgen.interpret import gibbs_attribution
from ml.tasgen.relabel import Relabeler, fit_relabeler, relabel_flagged, year_features
from ml.tasgen.series import MONTHS, DynamicSamples, SampleSeries


@dataclass
class TasGenConfig:
    """Settings of a TasGen run (defaults: ~300 samples x 7 years in well under a minute on 2 cores)."""

    hidden: int = 32  # HTS-VAE conv channels / MLP width
    z1: int = 4  # HTS-VAE lower latent size
    z2: int = 2  # HTS-VAE top latent size
    epochs: int = 150  # HTS-VAE epochs per self-training round
    batch_size: int = 128  # HTS-VAE batch size (sample-years)
    lr: float = 3e-3  # HTS-VAE Adam learning rate
    rounds: int = 2  # self-training rounds (1 = train once on all reference years)
    use_normal_years: bool = True  # after round 0, also train on non-reference years under threshold
    max_train_years: int = 6000  # cap on sample-years per round (random subset above it)
    threshold_k: float = 3.0  # threshold = median + k * 1.4826 * MAD of reference-year scores per class
    min_class_samples: int = 5  # fewer samples of a static class -> TasGenError
    rf_trees: int = 200  # stage-2 random forest size
    unflag_confidence: float = 0.8  # flagged year kept as its static class when the forest gives >= this
    gibbs_max: int = 100  # at most this many changed sample-years are attributed (highest scores first)
    gibbs_sweeps: int = 16  # Gibbs sweeps over all cells
    gibbs_burn_in: int = 4  # sweeps discarded before averaging
    gibbs_temperature: float = 1.0  # Gibbs temperature (nats of anomaly score)
    gibbs_cost: float = 1.0  # price of one restored cell (nats of anomaly score)
    torch_threads: int = 1  # torch.set_num_threads for the run (0 = leave as is); small nets run best on 1


@dataclass
class TasGenModel:
    """A fitted TasGen model; applies to series whose static classes are among ``classes``."""

    classes: tuple[str, ...]  # (C,) sorted class names
    dim_names: tuple[str, ...]  # (D,) dimension names of the training series
    mean: np.ndarray  # (D,) standardization mean
    std: np.ndarray  # (D,) standardization std
    vae: HTSVAE  # stage-1 model
    thresholds: ClassThresholds  # per-class anomaly thresholds
    relabeler: Relabeler  # stage-2 classifier
    normal_pattern: np.ndarray  # (C, 12, D) standardized median stable year of each class
    config: TasGenConfig  # settings used
    history: list[list[float]]  # per round, the training negative ELBO of each epoch

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

    def checkpoint(self) -> dict[str, object]:
        """Plain-dict checkpoint (HTS-VAE weights, thresholds, scaling, config; the forest is pickled)."""
        return {
            "model": self.vae.checkpoint(step=0, metrics={})["model"],
            "vae_config": asdict(self.vae.config),
            "config": asdict(self.config),
            "classes": list(self.classes),
            "dim_names": list(self.dim_names),
            "mean": self.mean,
            "std": self.std,
            "thresholds": asdict(self.thresholds),
            "normal_pattern": self.normal_pattern,
            "relabeler": self.relabeler,
        }


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
        batch_size=config.batch_size,
        lr=config.lr,
    )
    train_mask = is_ref.copy()
    history: list[list[float]] = []
    vae: HTSVAE | None = None
    thresholds: ClassThresholds | None = None
    scores = np.full((n, y), np.nan)
    for r in range(max(1, config.rounds)):
        idx = np.argwhere(train_mask)
        if len(idx) > config.max_train_years:
            idx = idx[rng.choice(len(idx), config.max_train_years, replace=False)]
        vae, hist = train_hts_vae(x[idx[:, 0], idx[:, 1]], cls_ny[idx[:, 0], idx[:, 1]], vae_cfg, seed + r)
        history.append(hist)
        scores = _score_all(vae, x, cls_ny, series.valid)
        thresholds = calibrate_thresholds(scores[is_ref], cls_ny[is_ref], classes, config.threshold_k)
        normal = series.valid & ~flag_anomalies(scores, cls_ny, thresholds)
        train_mask = normal if config.use_normal_years else (normal & is_ref)
        _ensure_each_class(train_mask, cls, classes)
    assert vae is not None and thresholds is not None  # loop runs at least once
    stable = series.valid & ~flag_anomalies(scores, cls_ny, thresholds)
    feats = year_features(x[stable])
    relabeler = fit_relabeler(feats, cls_ny[stable], len(classes), seed, config.rf_trees)
    normal_pattern = np.zeros((len(classes), MONTHS, series.n_dims), dtype=np.float32)
    for ci in range(len(classes)):
        normal_pattern[ci] = np.median(x[stable & (cls_ny == ci)], axis=0)
    return TasGenModel(
        classes=classes,
        dim_names=series.dim_names,
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        vae=vae,
        thresholds=thresholds,
        relabeler=relabeler,
        normal_pattern=normal_pattern,
        config=config,
        history=history,
    )


def _ensure_each_class(mask: np.ndarray, cls: np.ndarray, classes: tuple[str, ...]) -> None:
    for ci, name in enumerate(classes):
        if not mask[cls == ci].any():
            raise TasGenError(f"class {name!r}: every sample-year is anomalous; cannot learn its pattern")


def _score_all(vae: HTSVAE, x: np.ndarray, cls_ny: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(N, Y) negative ELBO under each sample's static class; NaN where not valid."""
    out = np.full(valid.shape, np.nan)
    idx = np.argwhere(valid)
    out[valid] = vae.score(x[idx[:, 0], idx[:, 1]], cls_ny[idx[:, 0], idx[:, 1]])
    return out


def apply_tasgen(model: TasGenModel, series: SampleSeries, seed: int = 0) -> DynamicSamples:
    """Dynamic samples of ``series`` under a fitted ``model`` (static classes must be known to it)."""
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
    scores = _score_all(model.vae, x, cls_ny, valid)
    flags = flag_anomalies(scores, cls_ny, model.thresholds) & valid
    names = np.array(model.classes)
    klass_idx = np.where(valid, cls_ny, -1)
    changed = np.zeros((n, y), dtype=bool)
    confidence = np.zeros((n, y))
    proba = model.relabeler.proba(year_features(x[valid]))
    confidence[valid] = proba[np.arange(len(proba)), cls_ny[valid]]
    fi = np.argwhere(flags)
    if len(fi):
        fproba = model.relabeler.proba(year_features(x[flags]))
        k, ch, conf = relabel_flagged(fproba, cls_ny[flags], cfg.unflag_confidence)
        klass_idx[flags], changed[flags], confidence[flags] = k, ch, conf
    klass = np.where(klass_idx >= 0, names[np.maximum(klass_idx, 0)], "")
    attr_m = np.zeros((n, y, MONTHS))
    attr_d = np.zeros((n, y, series.n_dims))
    ci = np.argwhere(changed)
    if len(ci) and cfg.gibbs_max > 0:
        order = np.argsort(-scores[changed], kind="stable")[: cfg.gibbs_max]
        sel = ci[order]
        s_i, s_y = sel[:, 0], sel[:, 1]
        ref = series.reference_index[s_i]
        own_ref = (ref != s_y) & ~changed[s_i, ref]
        normal = np.where(own_ref[:, None, None], x[s_i, ref], model.normal_pattern[cls[s_i]])
        c_sel = cls[s_i]
        att = gibbs_attribution(
            lambda xs: model.vae.score(xs, np.tile(c_sel, len(xs) // len(c_sel))),
            x[s_i, s_y],
            normal,
            model.thresholds.median[c_sel],
            sweeps=cfg.gibbs_sweeps,
            burn_in=cfg.gibbs_burn_in,
            temperature=cfg.gibbs_temperature,
            cost=cfg.gibbs_cost,
            seed=seed,
        )
        attr_m[s_i, s_y] = att.month
        attr_d[s_i, s_y] = att.dim
    return DynamicSamples(
        years=series.years,
        klass=klass,
        changed=changed,
        anomaly_score=scores,
        threshold=model.thresholds.threshold[cls],
        confidence=np.where(valid, confidence, np.nan),
        attribution_month=attr_m,
        attribution_dim=attr_d,
        change_years=change_years(klass, series.years),
    )


def run_tasgen(series: SampleSeries, config: TasGenConfig | None = None, seed: int = 0) -> DynamicSamples:
    """Fit TasGen on ``series`` (its static labels only) and return its dynamic samples.

    Raises :class:`TasGenError` on invalid input (shapes, NaNs in valid years, reference years without
    data, fewer than ``min_class_samples`` samples of a class, a single class).
    """
    model = fit_tasgen(series, config, seed)
    return apply_tasgen(model, series, seed)
