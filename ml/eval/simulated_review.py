"""Simulated reviewer: how much does each review buy? (``evaluate --reviews 0,10,20 --query ...``)

An oracle answers the queried sample-years of a protocol case with their true class, in batches of
:data:`BATCH`; after each batch both folds' models are refitted with every answer so far
(:func:`ml.tasgen.pipeline.refit_with_reviews`: stage 2 and the open-set reference learn the answers,
new class names included) and the held-out fold is relabelled, the reviewed years keeping their
answer. Queries: ``uncertainty`` takes the highest :func:`ml.tasgen.review.review_value` (the app's
review-queue order, diverse within a batch); ``random`` draws uniformly (seeded). Only sample-years
the protocol scores can be queried (the oracle knows no other truth). The curve's entry at ``k``
reviews holds the metrics after ``k`` answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from ml.errors import TasGenError
from ml.tasgen.pipeline import TasGenModel, apply_tasgen, refit_with_reviews
from ml.tasgen.relabel import year_features
from ml.tasgen.review import review_order

if TYPE_CHECKING:
    from ml.eval.cases import ProtocolCase

BATCH: Final[int] = 10  # answers per refit
QUERIES: Final[tuple[str, ...]] = ("uncertainty", "random")
CURVE_KEYS: Final[tuple[str, ...]] = ("relabel_oa", "kappa", "change_precision", "change_recall", "change_f1")


def simulate_reviews(
    case: ProtocolCase,
    models: dict[int, TasGenModel],
    budgets: list[int],
    query: str,
    seed: int,
) -> list[dict[str, float]]:
    """Metrics of the case after each budget of reviews (one dict per budget, ascending).

    ``models`` maps fold -> the TasGen model fitted on the *other* fold (static labels only), as in
    :func:`ml.eval.protocols.evaluate_case`. Raises :class:`TasGenError` on an unknown ``query`` or
    a negative budget.
    """
    from ml.eval.cases import Prediction, score

    if query not in QUERIES:
        raise TasGenError(f"query must be one of {list(QUERIES)}, got {query!r}")
    if any(b < 0 for b in budgets):
        raise TasGenError(f"review budgets must be >= 0, got {budgets}")
    s = case.series
    shape = s.valid.shape
    reviews = np.full(shape, "", dtype=object)
    rng = np.random.default_rng(seed)
    current = dict(models)
    curve: list[dict[str, float]] = []
    done = 0
    for budget in sorted(set(budgets)):
        while done < budget:
            klass, value, feats = _predict(case, current, reviews, seed)
            can = case.scored_mask & (reviews == "")
            if not can.any():
                break
            n = min(BATCH, budget - done, int(can.sum()))
            cand = np.argwhere(can)
            if query == "random":
                picks = cand[rng.choice(len(cand), n, replace=False)]
            else:
                flat = np.where(can, value, -np.inf)[can]
                picks = cand[review_order(flat, feats[can], limit=n)]
            for i, j in picks:
                reviews[i, j] = case.truth[i, j]
            done += n
            for f, base in models.items():
                te = case.fold == f
                current[f] = refit_with_reviews(base, s.subset(te), reviews[te].astype(str), seed)
        klass, _, _ = _predict(case, current, reviews, seed)
        changed = (klass != s.static_class[:, None]) & s.valid
        metrics = score(case, Prediction(klass, changed))
        curve.append({"reviews": float(done), **{k: metrics[k] for k in CURVE_KEYS}})
    return curve


def _predict(
    case: ProtocolCase, models: dict[int, TasGenModel], reviews: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(klass (N, Y) str, review value (N, Y), year features (N, Y, F)) of both held-out folds."""
    s = case.series
    n, y = s.valid.shape
    klass = np.full((n, y), "", dtype=object)
    value = np.full((n, y), -np.inf)
    feats: np.ndarray | None = None
    for f, model in models.items():
        te = case.fold == f
        test = s.subset(te)
        out = apply_tasgen(model, test, seed, attribute=False, reviews=reviews[te].astype(str))
        klass[te] = out.klass
        value[te] = out.review_value(reviewed=reviews[te] != "")
        x = np.where(test.valid[..., None, None], model.standardize(test.values), 0.0).astype(np.float32)
        f_te = year_features(x.reshape(-1, *x.shape[2:])).reshape(x.shape[0], y, -1)
        if feats is None:
            feats = np.zeros((n, y, f_te.shape[-1]), dtype=np.float32)
        feats[te] = f_te
    if feats is None:
        raise TasGenError("no fold models to predict with")
    return klass.astype(str), value, feats
