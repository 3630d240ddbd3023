"""Reads of the review queue: which sample-years need a look, in the order a review is worth most."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ml.review import REASON_UNKNOWN, REASONS, queue_features
from ml.tasgen import review_order
from monitoring.models import Analysis, DynamicSample

STATUSES = ("all", "unreviewed", "reviewed")


@dataclass(frozen=True)
class QueueItem:
    """One sample-year of the queue and the reviewer's answer for its label-year."""

    sample: DynamicSample
    answer: str  # the class a reviewer gave this label-year; "" when unanswered
    action: str  # "confirm" (the class shown was right) / "correct" / ""


@dataclass(frozen=True)
class ReviewQueue:
    """The queue of one analysis: ``items`` in review order (filtered), ``counts`` of the whole queue.

    ``counts``: ``total``, ``reviewed``, ``unreviewed`` and one count per reason (:data:`ml.review.REASONS`).
    """

    items: list[QueueItem]
    counts: dict[str, int] = field(default_factory=dict)


def queue_order(samples: list[DynamicSample]) -> list[int]:
    """Indices of ``samples`` in review order (see :func:`review_queue`)."""
    order: list[int] = []
    for first in (True, False):
        tier = [i for i, s in enumerate(samples) if (s.review_reason == REASON_UNKNOWN) == first]
        if not tier:
            continue
        features = queue_features(
            [(samples[i].static_class, samples[i].dynamic_class) for i in tier],
            [samples[i].year for i in tier],
        )
        picks = review_order(np.array([samples[i].review_value for i in tier]), features)
        order += [tier[int(k)] for k in picks]
    return order


def review_queue(*, analysis: Analysis, status: str = "all", reason: str = "") -> ReviewQueue:
    """The analysis' review queue: ``unknown`` samples first, then by review value with diversity.

    Order: ``unknown`` items, then the others, each by :func:`ml.tasgen.review_order` of the stored
    value of a review (:func:`ml.tasgen.review_value`: uncertainty, disagreement of TasGen's stages,
    anomaly) with diversity over the ``static -> dynamic`` pair and year (:func:`ml.review.queue_features`),
    so one kind of case does not fill the queue. Answered items keep their place (``status`` filters).
    """
    qs = (
        DynamicSample.objects.filter(analysis=analysis)
        .exclude(review_reason="")
        .select_related("label")
        .prefetch_related("label__reviews")
        .order_by("label__row", "label_id", "year")
    )
    samples = list(qs)
    order = queue_order(samples)
    items: list[QueueItem] = []
    for s in (samples[i] for i in order):
        answer = str((s.label.corrected_class or {}).get(str(s.year), ""))
        review = next((r for r in s.label.reviews.all() if r.year == s.year), None)
        items.append(QueueItem(s, answer, review.action if review is not None and answer else ""))
    counts = _counts([(i.sample.review_reason, bool(i.answer)) for i in items])
    if status == "reviewed":
        items = [i for i in items if i.answer]
    elif status == "unreviewed":
        items = [i for i in items if not i.answer]
    if reason:
        items = [i for i in items if i.sample.review_reason == reason]
    return ReviewQueue(items=items, counts=counts)


def review_counts(*, analysis: Analysis) -> dict[str, int]:
    """The counts of :func:`review_queue` without ordering it (one light query): what a page shows
    after each answer."""
    rows = (
        DynamicSample.objects.filter(analysis=analysis)
        .exclude(review_reason="")
        .values_list("review_reason", "year", "label__corrected_class")
    )
    return _counts([(reason, str(year) in (answers or {})) for reason, year, answers in rows])


def _counts(items: list[tuple[str, bool]]) -> dict[str, int]:
    """``total``, ``reviewed``, ``unreviewed`` and one count per reason of ``(reason, answered)`` items."""
    reviewed = sum(answered for _, answered in items)
    counts = {"total": len(items), "reviewed": reviewed, "unreviewed": len(items) - reviewed}
    counts.update({r: sum(reason == r for reason, _ in items) for r in REASONS})
    return counts
