"""Dynamic samples: one row per label and year, the majority of TasGen's classes over the label's pixels."""

from __future__ import annotations

from collections import Counter

import numpy as np
from django.contrib.gis.geos import Point

from ml.review import review_reason
from ml.tasgen.dynamic import DynamicLabels, label_years, sample_attributions
from monitoring.models import Analysis, DynamicSample

SAMPLE_CHUNK = 200  # dynamic samples written per transaction (keeps SQLite's write lock short)


def dynamic_samples_replace(
    *, analysis: Analysis, dyn: DynamicLabels, att: dict[str, np.ndarray] | None
) -> int:
    """Replace the analysis' dynamic samples (one per label and year); returns the count.

        ``att`` (the attribution arrays) fills ``attribution`` when it is already known (a re-run with
        the same inputs); otherwise it stays empty until the attribution step fills it. Each row gets
        its review reason, TasGen's suggested class in the label's own year, and its review value (the
    mean over its pixels of ``DynamicLabels.value``).
    """
    years = [int(y) for y in dyn.years]
    attributions = sample_attributions(dyn, att) if att is not None else {}
    rows: list[DynamicSample] = []
    for pk, j, idx, ok, agree, vote in label_years(dyn):
        static = str(dyn.static[idx[0]])
        at_ref = ok[dyn.ref_index[ok] == j]
        suggested = Counter(str(c) for c in dyn.suggested[at_ref]).most_common(1)[0][0] if at_ref.size else ""
        confidence = float(dyn.confidence[agree, j].mean())
        rows.append(
            DynamicSample(
                analysis=analysis,
                label_id=pk,
                year=years[j],
                geometry=Point(float(dyn.lon[idx[0]]), float(dyn.lat[idx[0]]), srid=4326),
                static_class=static,
                dynamic_class=vote,
                changed=vote != static,
                anomaly_score=float(
                    np.nan_to_num(
                        np.nanmean(dyn.score[ok, j]) if np.isfinite(dyn.score[ok, j]).any() else 0.0
                    )
                ),
                confidence=confidence,
                attribution=attributions.get((pk, years[j]), {}),
                review_reason=review_reason(
                    static=static,
                    dynamic=vote,
                    confidence=confidence,
                    suggested=suggested,
                    answered=bool(dyn.answered[ok, j].any()),
                ),
                suggested_class=suggested,
            )
        )
        rows[-1].review_value = round(float(dyn.value[ok, j].mean()), 4)
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
