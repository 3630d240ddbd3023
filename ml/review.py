"""The review queue's rules beside TasGen's: a label's own year is never relabeled, and why a
sample-year needs a look. The value of a review and the queue order are ``ml.tasgen.review_value``
and ``ml.tasgen.review_order``; the open-set class is ``ml.tasgen.UNKNOWN``.

Pure numpy on per-sample arrays; the app stores the outputs on its dynamic samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from ml.tasgen.openset import UNKNOWN

UNKNOWN_COLOR: Final[str] = "#ff00ff"  # the ``unknown`` class in maps and legends; no palette colour

# Why a sample-year is in the review queue, in the order the queue shows them.
REASON_UNKNOWN: Final[str] = "unknown"  # dynamic class `unknown`: a change to a class nobody named yet
REASON_LABEL: Final[str] = "label_may_be_wrong"  # TasGen disagrees with the label in the label's own year
REASON_CHANGED: Final[str] = "changed"  # relabeled away from the static class
REASON_UNCERTAIN: Final[str] = "uncertain"  # kept its class, but with a low confidence
REASON_ANSWERED: Final[str] = "answered"  # none of the above, but a reviewer answered it: kept in view
REASONS: Final[tuple[str, ...]] = (
    REASON_UNKNOWN,
    REASON_LABEL,
    REASON_CHANGED,
    REASON_UNCERTAIN,
    REASON_ANSWERED,
)
UNCERTAIN_BELOW: Final[float] = 0.6  # confidence under which a kept class is queued as "uncertain"


@dataclass(frozen=True)
class ReferenceYearCheck:
    """TasGen's output with every label's own year restored to its label, and what TasGen said there.

    ``klass (S, Y)`` and ``changed (S, Y)`` equal the input except at each sample's reference year,
    where the class is the static one and ``changed`` is False: a user's label is never silently
    replaced. ``suggested (S,)`` is TasGen's class in that year where it differs from the label
    (``""`` where it agrees or the year has no data): those labels go to review as "label may be wrong".
    """

    klass: np.ndarray
    changed: np.ndarray
    suggested: np.ndarray


def keep_reference_year(
    klass: np.ndarray, changed: np.ndarray, static: np.ndarray, ref_index: np.ndarray, valid: np.ndarray
) -> ReferenceYearCheck:
    """Restore the label in its own year. ``klass``, ``changed``, ``valid``: ``(S, Y)``; ``static``,
    ``ref_index`` (index into the years): ``(S,)``. Inputs are not modified."""
    klass = np.array(klass, dtype=object)
    changed = np.array(changed, dtype=bool)
    rows = np.arange(len(static))
    ref = np.clip(np.asarray(ref_index, dtype=np.int64), 0, klass.shape[1] - 1)
    at_ref = klass[rows, ref]
    ok = np.asarray(valid, dtype=bool)[rows, ref] & (at_ref != "")
    disagree = ok & (at_ref.astype(str) != np.asarray(static).astype(str))
    suggested = np.where(disagree, at_ref, "").astype(str)
    klass[rows[ok], ref[ok]] = np.asarray(static, dtype=object)[ok]
    changed[rows, ref] = False
    return ReferenceYearCheck(klass=klass.astype(str), changed=changed, suggested=suggested)


def review_reason(
    *,
    static: str,
    dynamic: str,
    confidence: float,
    suggested: str = "",
    answered: bool = False,
    uncertain_below: float = UNCERTAIN_BELOW,
) -> str:
    """Why one sample-year belongs in the review queue (one of :data:`REASONS`), or ``""`` if it does not.

    ``answered``: a reviewer gave its label-year a class (it stays in the queue, where it was answered).
    """
    if dynamic == UNKNOWN:
        return REASON_UNKNOWN
    if suggested:
        return REASON_LABEL
    if dynamic != static:
        return REASON_CHANGED
    if confidence < uncertain_below:
        return REASON_UNCERTAIN
    return REASON_ANSWERED if answered else ""


def queue_features(pairs: Sequence[tuple[str, str]], years: Sequence[int]) -> np.ndarray:
    """``(M, P + Y)`` rows for the diversity of ``ml.tasgen.review_order``: one-hot of each item's
    ``(static, dynamic)`` class pair, plus half a one-hot of its year. Two items of the same pair and
    year are copies (similarity 1); of the same pair in other years, close; of other pairs, far."""
    pair_ids = {p: i for i, p in enumerate(dict.fromkeys(pairs))}
    year_ids = {y: i for i, y in enumerate(dict.fromkeys(years))}
    out = np.zeros((len(pairs), len(pair_ids) + len(year_ids)), dtype=np.float64)
    for row, (pair, year) in enumerate(zip(pairs, years, strict=True)):
        out[row, pair_ids[pair]] = 1.0
        out[row, len(pair_ids) + year_ids[year]] = 0.5
    return out
