"""How far can TasGen's own signals go on the prodes protocol? (held-out folds, development seeds)

TasGen changes a year from two signals: the stage-1 anomaly score (HTS-VAE, robust sigmas) and the
stage-2 probability of the static class. This script measures, on held-out locations of the
``prodes`` protocol (same 2-fold location cross-fit as ``python -m ml.tasgen evaluate``):

- the AUC of each signal (and of their rank average) for "this Forest-labelled year was cleared",
  among the years whose static class is Forest (the only ones that can change there);
- TasGen's kappa with its default rule;
- an *oracle* kappa: the best over a grid of rules "change when score > a and p_static < b, or
  p_static < c", chosen per seed on the truth (it bounds what re-tuning that rule could give);
- the best *fixed* rules over all the seeds: TasGen's family (per-class threshold median + k * robust
  sigma of the held-out scores, b, c) and a continuous one, z(score) + w * z(logit(1 - p_static)) > t;
- the AUC of two other novelty detectors fitted on the training fold's years of the same static
  class: robust Mahalanobis distance (minimum covariance determinant) in a 3-component PCA of the
  year features, and the mean distance to the 5 nearest neighbours.

``--data-only`` prints facts of the file instead (no TasGen run): over all its Forest and
Deforestation rows, the single year features that best tell them apart (AUC, no training) and the
5-fold CV AUC of a logistic regression trained on the labels, for all Deforestation rows and for
those of each observation window (the Forest rows all share one window).

Run: ``python -m bench.bench_tasgen_signals [--first-seed 100 --seeds 10] [--data-only]`` (prints JSON).
The ``supervised_truth`` reference of ``evaluate`` (a stage-2 classifier trained on the truth)
answers the other question: what the *features* allow when clearing labels are known.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.covariance import MinCovDet
from sklearn.decomposition import PCA
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors

ROOT = Path(__file__).resolve().parents[1]

from ml.eval.protocols import prodes_case  # noqa: E402
from ml.samples import load_samples  # noqa: E402
from ml.tasgen.detect import MAD_TO_SIGMA  # noqa: E402
from ml.tasgen.pipeline import TasGenConfig, apply_tasgen, fit_tasgen  # noqa: E402
from ml.tasgen.relabel import logistic_classifier, year_features  # noqa: E402
from ml.tasgen.series import monthly_means  # noqa: E402

PRODES = ROOT.parent / "shared" / "data" / "samples" / "prodes_226_064_deforestation.npz"


def held_out_signals(seed: int, config: TasGenConfig) -> dict[str, np.ndarray]:
    """Per valid test sample-year of both folds: score, p_static, static, truth, TasGen class."""
    case = prodes_case(load_samples(PRODES), seed)
    keys = ("score", "p_static", "static", "truth", "tasgen", "mcd_pca3", "knn5")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for f in (0, 1):
        te = case.fold == f
        train, test = case.series.subset(~te), case.series.subset(te)
        model = fit_tasgen(train, config, seed)
        out = apply_tasgen(model, test, seed, attribute=False)
        v = test.valid
        x = np.where(v[..., None, None], model.standardize(test.values), 0.0).astype(np.float32)
        proba = model.relabeler.proba(year_features(x[v]))
        static = np.broadcast_to(test.static_class[:, None], v.shape)[v]
        cols["score"].append(out.anomaly_score[v])
        cols["p_static"].append(proba[np.arange(len(proba)), model.class_index(static)])
        cols["static"].append(static)
        cols["truth"].append(case.truth[te][v])
        cols["tasgen"].append(out.klass[v])
        mcd, knn = novelty_scores(model, train, year_features(x[v]), static)
        cols["mcd_pca3"].append(mcd)
        cols["knn5"].append(knn)
    return {k: np.concatenate(v) for k, v in cols.items()}


def novelty_scores(model, train, feats: np.ndarray, static: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MCD-in-PCA(3) and 5-NN distances of ``feats`` to the training years of their static class."""
    v = train.valid
    x = np.where(v[..., None, None], model.standardize(train.values), 0.0).astype(np.float32)
    f_tr = year_features(x[v])
    st_tr = np.broadcast_to(train.static_class[:, None], v.shape)[v]
    mcd, knn = np.zeros(len(feats)), np.zeros(len(feats))
    for c in np.unique(static):
        tr, te = f_tr[st_tr == c], static == c
        pca = PCA(3, random_state=0).fit(tr)
        cov = MinCovDet(random_state=0, support_fraction=0.7).fit(pca.transform(tr))
        mcd[te] = cov.mahalanobis(pca.transform(feats[te]))
        knn[te] = NearestNeighbors(n_neighbors=5).fit(tr).kneighbors(feats[te])[0].mean(1)
    return mcd, knn


def _robust_z(v: np.ndarray) -> np.ndarray:
    med = np.median(v)
    return (v - med) / max(MAD_TO_SIGMA * float(np.median(np.abs(v - med))), 1e-6)


def rule_kappa(sig: dict[str, np.ndarray], k: float, b: float, c: float) -> float:
    """Kappa of TasGen's rule family, thresholds = median + k * robust sigma per static class."""
    pred = sig["static"].astype(object).copy()
    for cls in np.unique(sig["static"]):
        m = sig["static"] == cls
        flag = _robust_z(sig["score"][m]) > k
        p = sig["p_static"][m]
        change = (flag & (p < b)) | (p < c)
        pred[np.flatnonzero(m)[change]] = _other(sig, cls)
    return float(cohen_kappa_score(sig["truth"], pred.astype(str)))


def continuous_kappa(sig: dict[str, np.ndarray], w: float, t: float) -> float:
    """Kappa of "z(score) + w * z(logit(1 - p_static)) > t", both z robust per static class."""
    pred = sig["static"].astype(object).copy()
    for cls in np.unique(sig["static"]):
        m = sig["static"] == cls
        p = np.clip(sig["p_static"][m], 1e-4, 1 - 1e-4)
        change = _robust_z(sig["score"][m]) + w * _robust_z(np.log((1 - p) / p)) > t
        pred[np.flatnonzero(m)[change]] = _other(sig, cls)
    return float(cohen_kappa_score(sig["truth"], pred.astype(str)))


def _other(sig: dict[str, np.ndarray], cls: str) -> str:
    return next(str(c) for c in np.unique(sig["static"]) if c != cls)


def best_fixed(sigs: list[dict[str, np.ndarray]]) -> dict[str, object]:
    """The best fixed rules over all seeds (mean kappa), both families."""
    fam = [
        (float(np.mean([rule_kappa(s, k, b, c) for s in sigs])), k, b, c)
        for k in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
        for b in (0.5, 0.6, 0.7, 0.8, 0.9)
        for c in (0.0, 0.2, 0.3, 0.4)
    ]
    cont = [
        (float(np.mean([continuous_kappa(s, w, t) for s in sigs])), w, t)
        for w in (0.5, 1.0, 2.0)
        for t in np.arange(1.0, 8.01, 0.5)
    ]
    f, c = max(fam), max(cont)
    default = float(np.mean([rule_kappa(s, 1.5, 0.6, 0.2) for s in sigs]))
    return {
        "kappa_best_fixed_rule": round(f[0], 4),
        "best_fixed_rule_k_b_c": list(f[1:]),
        "kappa_default_rule_emulated": round(default, 4),
        "kappa_best_continuous_rule": round(c[0], 4),
        "best_continuous_rule_w_t": [c[1], round(float(c[2]), 2)],
    }


def oracle_kappa(sig: dict[str, np.ndarray], forest: str = "Forest", other: str = "Pasture") -> float:
    """Best kappa over the rule grid (module docstring), Forest years changing to ``other``."""
    is_f = sig["static"] == forest
    best = -1.0
    a_grid = np.quantile(sig["score"][is_f], np.linspace(0.0, 1.0, 41))
    for a in a_grid:
        for b in np.linspace(0.05, 1.0, 20):
            for c in (0.0, 0.05, 0.1, 0.2, 0.3):
                change = is_f & (((sig["score"] > a) & (sig["p_static"] < b)) | (sig["p_static"] < c))
                pred = np.where(change, other, sig["static"])
                best = max(best, float(cohen_kappa_score(sig["truth"], pred)))
    return best


def data_facts() -> dict[str, object]:
    """Forest vs Deforestation rows of the prodes file: best single features, supervised CV AUC."""
    s = load_samples(PRODES)
    m = monthly_means(s.X, s.dates, s.start_date)
    feats = year_features(((m - m.mean((0, 1))) / m.std((0, 1))).astype(np.float32))
    names = [f"{b}_month{k + 1}" for k in range(12) for b in s.bands]
    names += [f"{st}_{b}" for st in ("mean", "std", "min", "max") for b in s.bands]
    defo = np.char.startswith(s.label.astype(str), "Deforestation")
    rows = (s.label == "Forest") | defo
    aucs = np.array([roc_auc_score(defo[rows], feats[rows, j]) for j in range(feats.shape[1])])
    top = np.argsort(-np.abs(aucs - 0.5))[:5]
    out: dict[str, object] = {
        "forest_windows": sorted({str(d) for d in s.start_date[s.label == "Forest"]}),
        "best_single_features_auc": {names[j]: round(float(max(aucs[j], 1 - aucs[j])), 3) for j in top},
    }
    windows = {"all": defo}
    for w in sorted({str(d) for d in s.start_date[defo]}):
        windows[f"window {w}"] = defo & (s.start_date.astype(str) == w)
    cv = {}
    for name, d in windows.items():
        idx = np.flatnonzero((s.label == "Forest") | d)
        clf = logistic_classifier(TasGenConfig.relabel_c)
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        p = cross_val_predict(clf, feats[idx], d[idx], cv=folds, method="predict_proba")[:, 1]
        cv[f"{name} ({int(d.sum())} rows)"] = round(float(roc_auc_score(d[idx], p)), 3)
    out["supervised_cv_auc_forest_vs_deforestation"] = cv
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--first-seed", type=int, default=100)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--data-only", action="store_true", help="facts of the file only (no TasGen run)")
    args = p.parse_args(argv)
    if args.data_only:
        print(json.dumps(data_facts(), indent=2))
        return 0
    t0 = time.perf_counter()
    cfg = TasGenConfig(gibbs_max=0)
    rows, sigs = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        sig = held_out_signals(seed, cfg)
        sigs.append(sig)
        f = sig["static"] == "Forest"
        cleared = sig["truth"][f] != "Forest"
        s, q = sig["score"][f], 1.0 - sig["p_static"][f]
        rank = (np.argsort(np.argsort(s)) + np.argsort(np.argsort(q))) / 2.0
        rows.append(
            {
                "seed": seed,
                "auc_score": roc_auc_score(cleared, s),
                "auc_stage2": roc_auc_score(cleared, q),
                "auc_rank_mean": roc_auc_score(cleared, rank),
                "auc_mcd_pca3": roc_auc_score(cleared, sig["mcd_pca3"][f]),
                "auc_knn5": roc_auc_score(cleared, sig["knn5"][f]),
                "kappa_tasgen": float(cohen_kappa_score(sig["truth"], sig["tasgen"])),
                "kappa_oracle_rule": oracle_kappa(sig),
            }
        )
    keys = [k for k in rows[0] if k != "seed"]
    result = {
        "mean": {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys},
        "std": {k: round(float(np.std([r[k] for r in rows])), 4) for k in keys},
        "fixed_rules": best_fixed(sigs),
        "seeds": [r["seed"] for r in rows],
        "runtime_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
