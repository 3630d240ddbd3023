"""Writes of map validation: mark a label set as validation, assess an analysis's maps with one.

A validation set is a label set the user holds back: it never trains an analysis. Its labels are
compared with the land-cover map of their reference year and, with the mapped area of each class,
give the area-adjusted accuracy and class areas of Olofsson et al. (2014) with 95% confidence
intervals (:func:`ml.accuracy.area_adjusted_accuracy`), one assessment per map year that has labels.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ml.accuracy import area_adjusted_accuracy, classes_at_points, error_matrix
from ml.atomic import write_bytes_atomic
from ml.errors import MLError
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, LabelSet, MapProduct
from monitoring.services.exports import stats_csv
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import analysis_dir


@transaction.atomic
def labelset_set_validation(*, label_set: LabelSet, is_validation: bool) -> LabelSet:
    """Mark (or unmark) a label set as a validation set."""
    label_set.is_validation = is_validation
    label_set.save(update_fields=["is_validation", "updated_at"])
    return label_set


def _label_points(label_set: LabelSet, inputs: AnalysisInputs) -> list[tuple[float, float, str, int]]:
    """(lon, lat, class, map year) of each validation label; polygons count at a point inside them."""
    out = []
    for label in label_set.labels.order_by("row", "id"):
        geom = label.geometry
        pt = geom if geom.geom_type == "Point" else geom.point_on_surface
        out.append((pt.x, pt.y, label.klass, inputs.reference_year(label)))
    return out


def validation_assessment(*, analysis: Analysis, label_set: LabelSet) -> dict[str, Any]:
    """The ``stats["validation"]`` of ``analysis`` assessed with ``label_set`` (nothing is written)."""
    if analysis.status != Analysis.Status.DONE:
        raise ApplicationError(f"the analysis is {analysis.status}; assess it once it is done", status=409)
    if label_set.pk == analysis.label_set_id:
        raise ApplicationError(
            "the map was trained on this label set: choose labels held back from training to validate it"
        )
    if label_set.owner_id != analysis.owner_id:
        raise ApplicationError("label set not found", status=404)
    inputs = AnalysisInputs(analysis)
    classes = inputs.class_names
    index = {c: i for i, c in enumerate(classes)}
    areas = (analysis.stats or {}).get("areas") or {}
    area_by_year = dict(zip(areas.get("years", []), areas.get("area_ha", []), strict=False))
    skipped: Counter[str] = Counter()
    by_year: dict[int, list[tuple[float, float, int]]] = {}
    for lon, lat, klass, year in _label_points(label_set, inputs):
        if klass not in index:
            skipped["class_not_in_map"] += 1
        elif year not in area_by_year:
            skipped["year_not_mapped"] += 1
        else:
            by_year.setdefault(year, []).append((lon, lat, index[klass]))
    products = {
        p.year: Path(settings.MEDIA_ROOT) / p.path
        for p in MapProduct.objects.filter(analysis=analysis, kind=MapProduct.Kind.LANDCOVER)
    }
    assessments = []
    for year in sorted(by_year):
        pts = np.asarray(by_year[year], dtype=np.float64)
        try:
            mapped = classes_at_points(products[year], pts[:, 0], pts[:, 1])
        except (KeyError, MLError):
            skipped["year_not_mapped"] += len(pts)
            continue
        skipped["outside_map"] += int((mapped < 0).sum())
        counts = error_matrix(mapped, pts[:, 2].astype(np.int64), len(classes))
        if counts.sum() == 0:
            continue
        mapped_ha = np.array([float(area_by_year[year].get(c, 0.0)) for c in classes])
        result = area_adjusted_accuracy(counts, mapped_ha, classes)
        assessments.append({"year": year, **result.as_dict()})
    if not assessments:
        raise ApplicationError(
            f'no label of "{label_set.name}" falls on a mapped pixel of a mapped year with a class of the map '
            f"({', '.join(classes)}; years {analysis.start_year}-{analysis.end_year})"
        )
    return {
        "method": "olofsson2014",
        "label_set": label_set.pk,
        "label_set_name": label_set.name,
        "area_unit": "ha",
        "assessments": assessments,
        "skipped": dict(skipped),
        "assessed_at": timezone.now().isoformat(),
    }


def _write_stats_files(analysis_id: int, stats: dict[str, Any]) -> None:
    folder = analysis_dir(analysis_id)
    if folder.is_dir():
        write_bytes_atomic(folder / "stats.json", json.dumps(stats, indent=1).encode())
        write_bytes_atomic(folder / "stats.csv", stats_csv(stats))


def analysis_validate(*, analysis: Analysis, label_set: LabelSet) -> dict[str, Any]:
    """Mark ``label_set`` as validation, assess the analysis with it and store the result in its stats.

    The statistics files (JSON, CSV) are rewritten with the assessment. Returns ``stats["validation"]``.
    """
    validation = validation_assessment(analysis=analysis, label_set=label_set)
    with transaction.atomic():
        if not label_set.is_validation:
            labelset_set_validation(label_set=label_set, is_validation=True)
        locked = Analysis.objects.select_for_update().get(pk=analysis.pk)
        stats = dict(locked.stats or {})
        stats["validation"] = validation
        locked.stats = stats
        locked.save(update_fields=["stats", "updated_at"])
        _write_stats_files(analysis.pk, stats)
    return validation


@transaction.atomic
def analysis_validation_clear(*, analysis: Analysis) -> None:
    """Drop the validation assessment of an analysis (its statistics files too)."""
    locked = Analysis.objects.select_for_update().get(pk=analysis.pk)
    stats = dict(locked.stats or {})
    if stats.pop("validation", None) is not None:
        locked.stats = stats
        locked.save(update_fields=["stats", "updated_at"])
        _write_stats_files(analysis.pk, stats)
