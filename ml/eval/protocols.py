"""Evaluation protocols of TasGen on real labelled series, with held-out locations and baselines.

Both protocols build a :class:`ProtocolCase`: a :class:`SampleSeries` whose static labels are what a
user would bring, the true class of every sample-year (used for scoring only) and a location group
per sample. Evaluation is a 2-fold cross-fit over location groups: TasGen and every baseline are
fitted on the samples of one fold (their static labels only) and applied to the other fold, so every
score comes from a model that never saw that location.

``prodes`` (files like ``prodes_226_064_deforestation.npz``; one year per sample, the clearing inside
it): all ``Forest`` samples plus a seeded random subset of the ``Deforestation_*`` samples (as many as
a quarter of the Forest samples) get the static label Forest; ``Pasture`` samples keep Pasture. The
truth of a deforestation sample is "non-forest", which in this label set is Pasture. Years are the
samples' real (window end) years; each sample has data in one year only (Y is degenerate).

``splice`` (multi-year series from real yearly series of two classes at nearby locations): the
locations are split into two halves (the folds) first. Each sample is built inside one half from a
base series of class ``a``; with probability ``change_fraction`` it switches at a random year ``s`` to
class ``b`` != ``a``: its years >= ``s`` are taken from the nearest location(s) of class ``b`` in the
same half. The reference year is drawn among the years before ``s`` (or any year for unchanged
samples). Two builders:

- multi-year files (``cerrado_modis_2classes_multiyear``; ~15 years per location): the base series is a
  location's own years (real calendar years); the partner is the nearest other-class location with
  data in the switch year;
- single-year files (``matogrosso_modis_9classes``; mostly one row per location): a series of
  ``n_years`` nominal years is assembled from the rows of class ``a`` nearest to the base row (the base
  row itself at the reference year) and, from the switch year on, the rows of class ``b`` nearest to it.
  The years are nominal (2011...); the rows' real years differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from ml.errors import TasGenError
from ml.eval.baselines import (
    class_mean_vectors,
    cosine_changed,
    cosine_similarities,
    fit_isolation_forests,
    isolation_forest_changed,
    reference_class_cosine,
)
from ml.eval.cases import Prediction, ProtocolCase, prf, score
from ml.samples import SampleSet
from ml.tasgen.pipeline import TasGenConfig, TasGenModel, apply_tasgen, fit_tasgen
from ml.tasgen.relabel import fit_relabeler, logistic_classifier, relabel_flagged, year_features
from ml.tasgen.series import MONTHS, SampleSeries, monthly_means


def _location_folds(samples: SampleSet, rng: np.random.Generator) -> np.ndarray:
    """(rows,) int 0/1: a seeded half split of the distinct locations."""
    ids = samples.location_ids()
    unique = np.unique(ids)
    half = rng.choice(unique, len(unique) // 2, replace=False)
    return np.isin(ids, half).astype(np.int64)


def prodes_case(
    samples: SampleSet, seed: int, forest: str = "Forest", pasture: str = "Pasture"
) -> ProtocolCase:
    """The ``prodes`` protocol case (see the module docstring); ``seed`` draws the subset and folds."""
    lab = samples.label
    is_defo = np.char.startswith(lab.astype(str), "Deforestation")
    for name, mask in ((forest, lab == forest), (pasture, lab == pasture), ("Deforestation_*", is_defo)):
        if not mask.any():
            raise TasGenError(f"prodes protocol: no {name} samples in the file (classes {samples.classes})")
    rng = np.random.default_rng(seed)
    f_idx, d_idx, p_idx = (
        np.flatnonzero(lab == forest),
        np.flatnonzero(is_defo),
        np.flatnonzero(lab == pasture),
    )
    n_defo = min(len(d_idx), int(round(0.25 * len(f_idx))))
    idx = np.concatenate([f_idx, rng.choice(d_idx, n_defo, replace=False), p_idx])
    static = np.where(lab[idx] == pasture, pasture, forest)
    true = np.where(lab[idx] == pasture, pasture, np.where(lab[idx] == forest, forest, pasture))
    monthly = monthly_means(samples.X[idx], samples.dates[idx], samples.start_date[idx])
    row_year = samples.year[idx]
    years = tuple(int(y) for y in np.unique(row_year))
    yi = np.searchsorted(np.asarray(years), row_year)
    n, b = len(idx), monthly.shape[2]
    values = np.zeros((n, len(years), MONTHS, b), dtype=np.float32)
    valid = np.zeros((n, len(years)), dtype=bool)
    truth = np.full((n, len(years)), "", dtype=object)
    values[np.arange(n), yi] = monthly
    valid[np.arange(n), yi] = True
    truth[np.arange(n), yi] = true
    series = SampleSeries(values, valid, years, static.astype(str), row_year.astype(np.int64), samples.bands)
    folds = _location_folds(samples, rng)[idx]
    return ProtocolCase(series, truth.astype(str), folds, np.zeros(n, dtype=np.int64))


def _nearest(lon: np.ndarray, lat: np.ndarray, i: int, candidates: np.ndarray) -> np.ndarray:
    """``candidates`` sorted by planar distance (degrees) from row ``i``."""
    d = (lon[candidates] - lon[i]) ** 2 + (lat[candidates] - lat[i]) ** 2
    return candidates[np.argsort(d, kind="stable")]


def splice_case(
    samples: SampleSet,
    seed: int,
    n_samples: int = 300,
    change_fraction: float = 0.3,
    n_years: int = 6,
    min_class_rows: int = 100,
) -> ProtocolCase:
    """The ``splice`` protocol case (module docstring); multi-year or single-year builder by the file.

    ``n_samples`` samples split over the two folds; ``n_years`` is the series length for single-year
    files (multi-year files use all their years). Classes with fewer than ``min_class_rows`` rows in
    the file are left out (too few to learn a normal pattern in each fold).
    """
    names, counts = np.unique(samples.label, return_counts=True)
    keep = names[counts >= min_class_rows]
    samples = samples.subset(np.isin(samples.label, keep))
    classes = samples.classes
    if len(classes) < 2:
        raise TasGenError(f"splice protocol: need at least 2 classes, file has {list(classes)}")
    rng = np.random.default_rng(seed)
    monthly = monthly_means(samples.X, samples.dates, samples.start_date)
    folds_rows = _location_folds(samples, rng)
    loc = samples.location_ids()
    multi_year = len(samples) > 1.5 * len(np.unique(loc))
    if multi_year:
        years = tuple(int(y) for y in np.unique(samples.year))
    else:
        years = tuple(2011 + k for k in range(n_years))
    y_count, b = len(years), monthly.shape[2]
    values = np.zeros((n_samples, y_count, MONTHS, b), dtype=np.float32)
    valid = np.zeros((n_samples, y_count), dtype=bool)
    truth = np.full((n_samples, y_count), "", dtype=object)
    static = np.empty(n_samples, dtype=object)
    ref_year = np.zeros(n_samples, dtype=np.int64)
    switch = np.zeros(n_samples, dtype=np.int64)
    fold = np.arange(n_samples) % 2
    year_pos = {y: k for k, y in enumerate(years)}
    for s in range(n_samples):
        rows_f = np.flatnonzero(folds_rows == fold[s])
        base = int(rng.choice(rows_f))
        a = samples.label[base]
        others = [c for c in classes if c != a and np.any(samples.label[rows_f] == c)]
        changed = bool(others) and rng.random() < change_fraction
        b_cls = str(rng.choice(others)) if changed else a
        if multi_year:
            own = np.flatnonzero(loc == loc[base])
            own_pos = {year_pos[int(samples.year[r])]: int(r) for r in own}
            filled = sorted(own_pos)
            sw = filled[int(rng.integers(1, len(filled)))] if changed and len(filled) > 1 else y_count
            if sw == y_count:
                changed, b_cls = False, a
            partner_rows: dict[int, int] = {}
            if changed:
                cand = rows_f[(samples.label[rows_f] == b_cls)]
                for p in _nearest(samples.lon, samples.lat, base, cand):
                    if int(samples.year[p]) == years[sw]:
                        ploc = loc[p]
                        partner_rows = {
                            year_pos[int(samples.year[r])]: int(r) for r in np.flatnonzero(loc == ploc)
                        }
                        break
                if not partner_rows:
                    changed, b_cls, sw = False, a, y_count
            for k in range(y_count):
                src = partner_rows.get(k) if k >= sw else own_pos.get(k)
                if src is not None:
                    values[s, k], valid[s, k] = monthly[src], True
                    truth[s, k] = samples.label[src]
            before = [k for k in filled if k < sw and valid[s, k]]
        else:
            sw = int(rng.integers(1, y_count)) if changed else y_count
            same = _nearest(samples.lon, samples.lat, base, rows_f[samples.label[rows_f] == a])
            new = _nearest(samples.lon, samples.lat, base, rows_f[samples.label[rows_f] == b_cls])
            ref_k = int(rng.integers(0, sw))
            order_a = [base] + [r for r in same if r != base]
            a_iter, b_iter = iter(order_a), iter(new)
            for k in [ref_k] + [k for k in range(y_count) if k != ref_k]:
                src = next(a_iter, None) if k < sw else next(b_iter, None)
                if src is not None:
                    values[s, k], valid[s, k] = monthly[src], True
                    truth[s, k] = samples.label[src]
            before = [ref_k]
        static[s] = a
        ref_year[s] = years[int(rng.choice(before))]
        switch[s] = years[sw] if changed else 0
    series = SampleSeries(values, valid, years, static.astype(str), ref_year, samples.bands)
    return ProtocolCase(series, truth.astype(str), fold, switch)


METRIC_KEYS: tuple[str, ...] = (
    "relabel_oa",
    "kappa",
    "change_precision",
    "change_recall",
    "change_f1",
    "change_year_f1",
    "false_change_rate",
    "evaluated_sample_years",
)
COSINE_DEMO_THRESHOLD = 0.2  # the official ESD demo's change threshold


def _relabel_baseline(
    model: TasGenModel,
    train: SampleSeries,
    train_changed: np.ndarray,
    test: SampleSeries,
    changed: np.ndarray,
    seed: int,
) -> Prediction:
    """Relabel a baseline's changed test years with a stage-2 classifier fitted on its unchanged training years."""
    cls_tr = model.class_index(train.static_class)
    cls_te = model.class_index(test.static_class)
    x_tr = model.standardize(np.where(train.valid[..., None, None], train.values, 0.0))
    x_te = model.standardize(np.where(test.valid[..., None, None], test.values, 0.0))
    stable = train.valid & ~train_changed
    cls_tr_ny = np.broadcast_to(cls_tr[:, None], train.valid.shape)
    cfg = model.config
    relabeler = fit_relabeler(
        year_features(x_tr[stable]),
        cls_tr_ny[stable],
        len(model.classes),
        seed,
        n_trees=100,
        kind=cfg.relabel_model,
        c=cfg.relabel_c,
    )
    names = np.array(model.classes)
    k = np.broadcast_to(cls_te[:, None], test.valid.shape).copy()
    ch = changed & test.valid
    if ch.any():
        proba = relabeler.proba(year_features(x_te[ch]))
        new, still, _ = relabel_flagged(proba, k[ch], cfg.unflag_confidence)
        k[ch] = new
        ch = ch.copy()
        ch[ch] = still
    return Prediction(np.where(test.valid, names[k], ""), ch)


def _best_threshold(case_train: ProtocolCase, sim: np.ndarray, ref_sim: np.ndarray) -> float:
    """Cosine threshold in [-1, 1] (step 0.02) with the best change F1 on the training fold's truth."""
    s = case_train.series
    true = (case_train.truth != s.static_class[:, None]) & s.valid
    best, best_f = COSINE_DEMO_THRESHOLD, -1.0
    for thr in np.round(np.arange(-1.0, 1.0001, 0.02), 2):
        pred = cosine_changed(s, sim, ref_sim, float(thr)) & s.valid
        _, _, f = prf(int((pred & true).sum()), int(pred.sum()), int(true.sum()))
        if f > best_f:
            best, best_f = float(thr), f
    return best


SUPERVISED_CS: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # grid of the reference's C


def supervised_truth(
    case_train: ProtocolCase, test: SampleSeries, mean: np.ndarray, std: np.ndarray
) -> Prediction:
    """The ``supervised_truth`` reference: what per-year classification allows when the truth is known.

    For each static class ``s``, a logistic regression (standardized :func:`year_features`, balanced
    class weights: the stage-2 family) fitted on the *true* class of every valid training-fold
    sample-year whose static class is ``s`` (a constant when they all share one class); ``C`` is picked
    from :data:`SUPERVISED_CS` by a 3-fold cross-validation grouped by sample on the training fold.
    A test year takes the prediction of its static class's model (changed = differs from the static
    class). Not a baseline (it sees labels a user does not have): a ceiling for methods that decide
    each year from its monthly vectors and static class, as TasGen's stage 2 does. ``mean``/``std``
    (D,) standardize the values (TasGen's fitted scaling, so both see the same features).
    """
    tr = case_train.series
    lab = tr.valid & (case_train.truth != "")  # real-label protocols: only the labelled years
    x_tr = ((tr.values[lab] - mean) / std).astype(np.float32)
    feats = year_features(x_tr)
    y_tr = case_train.truth[lab]
    st_tr = np.broadcast_to(tr.static_class[:, None], tr.valid.shape)[lab]
    groups = np.argwhere(lab)[:, 0]
    best_c, best_hits = SUPERVISED_CS[0], -1
    splitter = GroupKFold(min(3, len(np.unique(groups))))
    for c in SUPERVISED_CS:
        hits = 0
        for a, b in splitter.split(feats, y_tr, groups):
            pred = _per_static_fit(feats[a], y_tr[a], st_tr[a], c).predict(feats[b], st_tr[b])
            hits += int((pred == y_tr[b]).sum())
        if hits > best_hits:
            best_c, best_hits = c, hits
    fitted = _per_static_fit(feats, y_tr, st_tr, best_c)
    x_te = ((test.values - mean) / std).astype(np.float32)
    st_te = np.broadcast_to(test.static_class[:, None], test.valid.shape)[test.valid]
    klass = np.full(test.valid.shape, "", dtype=object)
    klass[test.valid] = fitted.predict(year_features(x_te[test.valid]), st_te)
    changed = (klass != test.static_class[:, None]) & test.valid
    return Prediction(klass.astype(str), changed)


@dataclass(frozen=True)
class _PerStatic:
    """One classifier (or constant class name) per static class; unseen static classes keep theirs."""

    models: dict[str, Pipeline | str]

    def predict(self, feats: np.ndarray, static: np.ndarray) -> np.ndarray:
        out = static.astype(object).copy()
        for s, m in self.models.items():
            rows = static == s
            if rows.any():
                out[rows] = m if isinstance(m, str) else m.predict(feats[rows])
        return out


def _per_static_fit(feats: np.ndarray, truth: np.ndarray, static: np.ndarray, c: float) -> _PerStatic:
    models: dict[str, Pipeline | str] = {}
    for s in np.unique(static):
        rows = static == s
        classes = np.unique(truth[rows])
        models[str(s)] = (
            str(classes[0]) if len(classes) == 1 else logistic_classifier(c).fit(feats[rows], truth[rows])
        )
    return _PerStatic(models)


def static_year_classifier(
    train: SampleSeries, test: SampleSeries, mean: np.ndarray, std: np.ndarray, seed: int
) -> Prediction:
    """The ``static_year_forest`` baseline: a classifier of the static year alone, applied to every year.

    A random forest (200 trees, balanced class weights) on the stage-2 year features of the training
    samples' *reference* years (the only years whose class the static labels state), predicting every
    valid test year; changed = the prediction differs from the static class. It finds changes to any
    look the reference year did not have, and pays for it on real stable series: other years of the
    same class look different enough (weather, crop calendar) to be called another class.
    """
    from sklearn.ensemble import RandomForestClassifier

    ref = np.zeros(train.valid.shape, dtype=bool)
    ref[np.arange(train.n_samples), train.reference_index] = True
    x_tr = ((train.values[ref] - mean) / std).astype(np.float32)
    forest = RandomForestClassifier(n_estimators=200, n_jobs=1, random_state=seed, class_weight="balanced")
    forest.fit(year_features(x_tr), train.static_class)
    x_te = ((test.values[test.valid] - mean) / std).astype(np.float32)
    klass = np.full(test.valid.shape, "", dtype=object)
    klass[test.valid] = forest.predict(year_features(x_te))
    changed = (klass != test.static_class[:, None]) & test.valid
    return Prediction(klass.astype(str), changed)


def _sub(case: ProtocolCase, mask: np.ndarray) -> ProtocolCase:
    scored = None if case.scored is None else case.scored[mask]
    return ProtocolCase(
        case.series.subset(mask), case.truth[mask], case.fold[mask], case.switch_year[mask], scored
    )


def evaluate_case(
    case: ProtocolCase,
    config: TasGenConfig,
    seed: int,
    models: dict[int, TasGenModel] | None = None,
) -> dict[str, dict[str, float]]:
    """2-fold location cross-fit of TasGen and the baselines on ``case``; metrics per method.

    Only static labels enter any fit, except the ``cosine_best`` threshold, chosen on the training
    fold's truth (an optimistic baseline), and the ``supervised_truth`` reference (trained on the
    training fold's truth; a ceiling, not a baseline). ``models``, when given, receives the TasGen
    model applied to each fold (fold -> model fitted on the other fold), for the simulated reviewer.
    """
    s = case.series
    shape = s.valid.shape
    names = (
        "tasgen",
        "static",
        "static_year_forest",
        "cosine_0.2",
        "cosine_best",
        "isolation_forest",
        "supervised_truth",
    )
    klass = {m: np.full(shape, "", dtype=object) for m in names}
    changed = {m: np.zeros(shape, dtype=bool) for m in names}
    for f in (0, 1):
        te, tr = case.fold == f, case.fold != f
        train, test = s.subset(tr), s.subset(te)
        model = fit_tasgen(train, config, seed)
        if models is not None:
            models[f] = model
        out = apply_tasgen(model, test, seed)
        klass["tasgen"][te], changed["tasgen"][te] = out.klass, out.changed
        klass["static"][te] = np.where(test.valid, test.static_class[:, None], "")
        p = static_year_classifier(train, test, model.mean, model.std, seed)
        klass["static_year_forest"][te], changed["static_year_forest"][te] = p.klass, p.changed
        cm = class_mean_vectors(train, model.mean, model.std)
        sim_tr = cosine_similarities(train, model.mean, model.std, cm)
        ref_tr = reference_class_cosine(train, model.mean, model.std, cm)
        sim_te = cosine_similarities(test, model.mean, model.std, cm)
        ref_te = reference_class_cosine(test, model.mean, model.std, cm)
        thr_best = _best_threshold(_sub(case, tr), sim_tr, ref_tr)
        for name, thr in (("cosine_0.2", COSINE_DEMO_THRESHOLD), ("cosine_best", thr_best)):
            ch_tr = cosine_changed(train, sim_tr, ref_tr, thr)
            ch_te = cosine_changed(test, sim_te, ref_te, thr)
            p = _relabel_baseline(model, train, ch_tr, test, ch_te, seed)
            klass[name][te], changed[name][te] = p.klass, p.changed
        forests = fit_isolation_forests(train, seed)
        p = _relabel_baseline(
            model,
            train,
            isolation_forest_changed(train, forests),
            test,
            isolation_forest_changed(test, forests),
            seed,
        )
        klass["isolation_forest"][te], changed["isolation_forest"][te] = p.klass, p.changed
        p = supervised_truth(_sub(case, tr), test, model.mean, model.std)
        klass["supervised_truth"][te], changed["supervised_truth"][te] = p.klass, p.changed
    return {m: score(case, Prediction(klass[m].astype(str), changed[m])) for m in names}


def _summary(runs: list[dict[str, float]]) -> dict[str, object]:
    out: dict[str, object] = {k: round(float(np.mean([r[k] for r in runs])), 4) for k in METRIC_KEYS}
    out["std"] = {k: round(float(np.std([r[k] for r in runs])), 4) for k in METRIC_KEYS}
    return out


PROTOCOLS: tuple[str, ...] = ("prodes", "splice", "dtwsat", "stable")


def protocol_case(
    protocol: str,
    samples: SampleSet | None,
    seed: int,
    splice_samples: int = 300,
    cube: Path | None = None,
) -> ProtocolCase:
    """The case of ``protocol`` for ``seed`` (``samples`` needed by all but ``dtwsat``; ``cube`` by it)."""
    from ml.eval.real_cases import dtwsat_case, stable_case

    if protocol not in PROTOCOLS:
        raise TasGenError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    if protocol == "dtwsat":
        return dtwsat_case(cube, seed)
    if samples is None:
        raise TasGenError(f"protocol {protocol!r} needs --samples FILE.npz")
    if protocol == "prodes":
        return prodes_case(samples, seed)
    if protocol == "splice":
        return splice_case(samples, seed, splice_samples)
    return stable_case(samples, seed)


def evaluate_protocol(
    samples: SampleSet | None,
    protocol: str,
    seeds: list[int],
    config: TasGenConfig,
    splice_samples: int = 300,
    cube: Path | None = None,
    reviews: list[int] | None = None,
    query: str = "uncertainty",
) -> dict[str, object]:
    """Run ``protocol`` (one of :data:`PROTOCOLS`) over ``seeds``; mean and std of every metric.

    With ``reviews`` (budgets, e.g. ``[0, 10, 20, 50]``), the simulated reviewer
    (``ml.eval.simulated_review``) runs on the same fold models: ``curve`` (``query``) and
    ``curve_random`` list, per budget, the mean over seeds of ``relabel_oa``, ``kappa`` and the change
    precision / recall / F1 after that many answered sample-years.

    Returns a JSON-ready dict: TasGen's mean ``relabel_oa``, ``kappa``, ``change_precision``,
    ``change_recall``, ``change_f1``, ``false_change_rate``, ``evaluated_sample_years``, then
    ``baselines`` (every metric with its ``std`` per baseline), then ``references``
    (``supervised_truth``: trained on the truth, the ceiling of per-year classification on these
    features), then TasGen's ``change_year_f1`` and ``std`` (of every metric over the seeds), then run
    details.
    """
    from ml.eval.simulated_review import simulate_reviews

    per_method: dict[str, list[dict[str, float]]] = {}
    curves: dict[str, list[list[dict[str, float]]]] = {"curve": [], "curve_random": []}
    n_samples = 0
    n_changed = 0
    for seed in seeds:
        case = protocol_case(protocol, samples, seed, splice_samples, cube)
        n_samples = case.series.n_samples
        n_changed = int(((case.truth != case.series.static_class[:, None]) & case.scored_mask).sum())
        models: dict[int, TasGenModel] = {}
        for m, metrics in evaluate_case(case, config, seed, models).items():
            per_method.setdefault(m, []).append(metrics)
        if reviews:
            curves["curve"].append(simulate_reviews(case, models, reviews, query, seed))
            curves["curve_random"].append(simulate_reviews(case, models, reviews, "random", seed))
    tasgen = _summary(per_method.pop("tasgen"))
    head = (
        "relabel_oa",
        "kappa",
        "change_precision",
        "change_recall",
        "change_f1",
        "false_change_rate",
        "evaluated_sample_years",
    )
    result: dict[str, object] = {k: tasgen[k] for k in head}
    reference = per_method.pop("supervised_truth")
    result["baselines"] = {m: _summary(runs) for m, runs in per_method.items()}
    result["references"] = {"supervised_truth": _summary(reference)}
    if reviews:
        for name, runs in curves.items():
            result[name] = [
                {k: round(float(np.mean([r[b][k] for r in runs])), 4) for k in runs[0][b]}
                for b in range(len(runs[0]))
            ]
        result["query"] = query
    result["change_year_f1"] = tasgen["change_year_f1"]
    result["std"] = tasgen["std"]
    result["protocol"] = protocol
    result["seeds"] = list(seeds)
    result["n_samples"] = n_samples
    result["n_changed_sample_years_last_seed"] = n_changed
    return result
