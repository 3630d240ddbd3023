"""Writes of analyses: create (and enqueue after commit), cancel, delete."""

from __future__ import annotations

import shutil
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from monitoring.errors import ApplicationError
from monitoring.models import AOI, Analysis, LabelSet
from monitoring.parameters import analysis_parameters_clean
from monitoring.selectors.coverage import aoi_coverage_years, year_span
from monitoring.services.pipeline.state import FINISHED
from monitoring.storage.paths import analysis_dir

MAX_YEARS = 40


@transaction.atomic
def analysis_create(
    *,
    owner: User,
    aoi: AOI,
    label_set: LabelSet,
    start_year: int,
    end_year: int,
    name: str = "",
    parameters: dict[str, Any] | None = None,
) -> Analysis:
    """Validate and store an analysis, then enqueue its first task once the transaction commits.

    ``parameters`` follow :class:`monitoring.parameters.AnalysisParametersSerializer`; a bad one
    raises DRF's ``ValidationError`` (400 naming the field) before anything is written.
    """
    if aoi.owner_id != owner.pk or label_set.owner_id != owner.pk:
        raise ApplicationError("AOI or label set not found", status=404)
    params = analysis_parameters_clean(parameters)  # 400 naming the field; nothing stored yet
    pair = params.get("change_pair")
    if pair and not all(start_year <= y <= end_year for y in pair):
        raise ValidationError(
            {"parameters": {"change_pair": [f"both years must lie in {start_year}-{end_year}"]}}
        )
    if start_year > end_year:
        raise ApplicationError(f"start_year {start_year} is after end_year {end_year}")
    if end_year - start_year + 1 > MAX_YEARS:
        raise ApplicationError(f"at most {MAX_YEARS} years per analysis, got {end_year - start_year + 1}")
    available = aoi_coverage_years(aoi)  # years with tiles over this area, not anywhere in the store
    missing = [y for y in range(start_year, end_year + 1) if y not in available]
    if len(missing) == end_year - start_year + 1:
        raise ApplicationError(
            f"the ESD store has no tiles over the area {aoi.name!r} for {start_year}-{end_year}; years with "
            f"data there: {year_span(available) or 'none (draw the area over a coverage patch, or index a store with manage.py esd_index)'}"
        )
    if not label_set.labels.exists():
        raise ApplicationError("the label set has no labels")
    if label_set.is_validation:
        raise ApplicationError(
            f'"{label_set.name}" is marked as a validation set: labels that assess maps cannot train them '
            "(unmark it to train with it)"
        )
    analysis = Analysis.objects.create(
        owner=owner,
        aoi=aoi,
        label_set=label_set,
        start_year=start_year,
        end_year=end_year,
        name=(name.strip() or f"{aoi.name} · {label_set.name} · {start_year}-{end_year}")[:200],
        parameters=params,
    )
    from tasks.analysis import analysis_start

    analysis_start.delay_on_commit(analysis.pk)
    return analysis


@transaction.atomic
def analysis_cancel(*, analysis: Analysis) -> Analysis:
    """Ask the running job to stop at its next window and mark the analysis cancelled now."""
    if analysis.status in FINISHED:
        raise ApplicationError(f"the analysis is already {analysis.status}", status=409)
    Analysis.objects.filter(pk=analysis.pk).update(
        cancel_requested=True, status=Analysis.Status.CANCELLED, finished_at=timezone.now()
    )
    analysis.refresh_from_db()
    return analysis


def analysis_delete(*, analysis: Analysis) -> None:
    """Delete an analysis, its rows and its files (a running job stops at its next step)."""
    Analysis.objects.filter(pk=analysis.pk).update(cancel_requested=True)
    folder = analysis_dir(analysis.pk)
    analysis.delete()
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
