"""Writes of label sets: import an uploaded file, add labels (e.g. similar pixels), delete (answers: reviews)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import transaction

from ml.colormaps import default_class_colors
from monitoring.errors import ApplicationError
from monitoring.models import Label, LabelSet
from monitoring.parsers import LabelOptions, UploadError, parse_labels
from monitoring.selectors.store import coverage_geometry
from monitoring.services.uploads import upload_limits


def _class_list(names: Sequence[str], existing: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
    classes = list(existing or [])
    known = {c["name"] for c in classes}
    new = [n for n in sorted(set(names)) if n not in known]
    colors = default_class_colors(len(classes) + len(new))
    for i, name in enumerate(new, start=len(classes)):
        classes.append({"name": name, "color": colors[i]})
    return classes


def labelset_import(
    *,
    owner: User,
    name: str,
    filename: str,
    content: bytes,
    options: dict[str, Any] | None = None,
) -> tuple[LabelSet, dict[str, Any]]:
    """Parse, validate and store an uploaded label file; returns the set and the upload report.

    Nothing is stored when the whole file is refused (:class:`ApplicationError` with the reasons).
    """
    given = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    if isinstance(given.get("allowed_classes"), str):  # "Forest, Pasture" from a form
        given["allowed_classes"] = tuple(c.strip() for c in given["allowed_classes"].split(",") if c.strip())
    opts = LabelOptions(**given)
    try:
        report = parse_labels(filename, content, opts, upload_limits(), coverage_geometry())
    except UploadError as exc:
        raise ApplicationError(
            exc.message, extra={"rejected": [{"row": r.row, "reason": r.reason} for r in exc.rejected[:200]]}
        ) from exc
    summary = {
        "format": report.format,
        "source_crs": report.source_crs,
        "accepted": len(report.accepted),
        "rejected": [{"row": r.row, "reason": r.reason} for r in report.rejected],
        "warnings": list(report.warnings),
        "classes": list(report.classes),
        "class_column": report.class_column,
        "date_column": report.date_column,
    }
    with transaction.atomic():
        label_set = LabelSet.objects.create(
            owner=owner,
            name=(name.strip() or filename.rsplit(".", 1)[0])[:200],
            classes=_class_list(report.classes),
            source_filename=filename[:255],
            upload_report=summary,
        )
        Label.objects.bulk_create(
            [
                Label(
                    label_set=label_set,
                    row=a.row,
                    geometry=GEOSGeometry(memoryview(a.geometry.wkb), srid=4326),
                    klass=a.klass,
                    reference_date=a.reference_date,
                )
                for a in report.accepted
            ],
            batch_size=2000,
        )
    return label_set, summary


@transaction.atomic
def labels_add_points(
    *, label_set: LabelSet, points: Sequence[tuple[float, float]], klass: str, reference_date: datetime.date
) -> list[Label]:
    """Add point labels of one class (e.g. pixels chosen as similar); the class joins the set's list."""
    klass = klass.strip()
    if not klass:
        raise ApplicationError("class must not be empty")
    if not points:
        raise ApplicationError("no points given")
    coverage = coverage_geometry()
    from shapely.geometry import Point as ShapelyPoint

    for lon, lat in points:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ApplicationError(f"point ({lon}, {lat}) is not a lon/lat position")
        if coverage is not None and not coverage.covers(ShapelyPoint(lon, lat)):
            raise ApplicationError(f"point ({lon:.5f}, {lat:.5f}) is outside the ESD store's coverage")
    start = (label_set.labels.order_by("-row").values_list("row", flat=True).first() or 0) + 1
    labels = Label.objects.bulk_create(
        [
            Label(
                label_set=label_set,
                row=start + i,
                geometry=Point(lon, lat, srid=4326),
                klass=klass,
                reference_date=reference_date,
            )
            for i, (lon, lat) in enumerate(points)
        ]
    )
    if klass not in label_set.class_names:
        label_set.classes = _class_list([klass], label_set.classes)
        label_set.save(update_fields=["classes", "updated_at"])
    return labels


@transaction.atomic
def labelset_delete(*, label_set: LabelSet) -> None:
    """Delete a label set with its labels and the analyses that used it (and their files)."""
    from monitoring.services.analyses import analysis_delete

    for analysis in label_set.analyses.all():
        analysis_delete(analysis=analysis)
    label_set.delete()
