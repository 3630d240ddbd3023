"""Writes of the review loop: a reviewer's answers for sample-years, new classes, and "Apply reviews".

An answer is a class for one label-year. It is kept in ``Label.corrected_class`` (what the next run
of TasGen reads: an answered label-year takes that class, with full confidence) and recorded as a
:class:`Review` (confirmation of the class the analysis showed, or correction, by whom, from where).
Applying reviews starts a new analysis with the same inputs: the lookups and the TasGen fit are
found in their content-keyed caches, so only relabeling (with the answers) and the maps are redone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import transaction

from ml.colormaps import default_class_colors
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, DynamicSample, Label, LabelSet, Review
from monitoring.services.analyses import analysis_create

MAX_CLASS_NAME = 100
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _field_error(field: str, message: str) -> ApplicationError:
    """A 400 that names the offending input field as DRF's validation errors do: ``{field: [message]}``."""
    return ApplicationError(f"{field}: {message}", extra={field: [message]})


def _answer(
    *,
    label: Label,
    year: int,
    klass: str | None,
    shown_class: str = "",
    analysis: Analysis | None = None,
    reviewer: User | None = None,
) -> Review | None:
    """Store (or with ``klass=None`` remove) the answer for one label-year; the caller holds the lock."""
    answers = dict(label.corrected_class or {})
    if klass is None:
        answers.pop(str(year), None)
        Review.objects.filter(label=label, year=year).delete()
        review = None
    else:
        answers[str(year)] = klass
        action = Review.Action.CONFIRM if shown_class and klass == shown_class else Review.Action.CORRECT
        review, _ = Review.objects.update_or_create(
            label=label,
            year=year,
            defaults={
                "klass": klass,
                "action": action,
                "shown_class": shown_class,
                "analysis": analysis,
                "reviewer": reviewer,
            },
        )
    label.corrected_class = answers
    label.save(update_fields=["corrected_class"])
    return review


def _checked_class(label_set: LabelSet, klass: str | None, field: str) -> str | None:
    if klass is None:
        return None
    klass = klass.strip()
    if not klass:
        raise _field_error(field, "the class name is empty")
    if klass not in label_set.map_class_names:
        raise _field_error(
            field,
            f"unknown class {klass!r}; classes of this label set: {label_set.map_class_names} "
            "(create a new class first)",
        )
    return klass


@transaction.atomic
def samples_review(
    *,
    analysis: Analysis,
    sample_ids: Sequence[int],
    klass: str | None,
    reviewer: User | None = None,
) -> list[Review]:
    """Answer ``klass`` for the label-years of the analysis' samples ``sample_ids`` (``None`` removes).

    ``klass`` equal to a sample's dynamic class confirms it, another class corrects it. Raises
    :class:`ApplicationError` naming ``samples`` when an id is not a sample of this analysis, and
    ``klass`` when the class is empty or not in the label set (new classes: :func:`labelset_class_add`).
    """
    label_set = LabelSet.objects.select_for_update().get(pk=analysis.label_set_id)
    klass = _checked_class(label_set, klass, "klass")
    ids = list(dict.fromkeys(int(i) for i in sample_ids))
    samples = {
        s.pk: s for s in DynamicSample.objects.filter(analysis=analysis, pk__in=ids).select_related("label")
    }
    missing = [i for i in ids if i not in samples]
    if missing:
        raise _field_error(
            "samples",
            f"{missing[:20]} {'is not a sample' if len(missing) == 1 else 'are not samples'} "
            f"of analysis {analysis.pk}",
        )
    labels: dict[int, Label] = {}
    reviews: list[Review] = []
    for pk in ids:
        sample = samples[pk]
        label = labels.setdefault(sample.label_id, sample.label)
        review = _answer(
            label=label,
            year=sample.year,
            klass=klass,
            shown_class=sample.dynamic_class,
            analysis=analysis,
            reviewer=reviewer,
        )
        if review is not None:
            reviews.append(review)
    return reviews


@transaction.atomic
def label_correct(*, label: Label, year: int, klass: str | None, reviewer: User | None = None) -> Label:
    """Record a reviewer's class for one label-year (``None`` removes it); used by the next run."""
    klass = _checked_class(label.label_set, klass, "klass")
    _answer(label=label, year=year, klass=klass, reviewer=reviewer)
    return label


@transaction.atomic
def labelset_class_add(*, label_set: LabelSet, name: str, color: str | None = None) -> LabelSet:
    """Add a class to the label set (e.g. a reviewer names the ``unknown`` samples "Soybean-maize").

    ``color`` is ``#rrggbb`` (default: the palette's next colour). Raises :class:`ApplicationError`
    naming ``name`` when it is empty, too long or already a class, ``color`` when it is not a colour.
    """
    label_set = LabelSet.objects.select_for_update().get(pk=label_set.pk)
    name = name.strip()
    if not name:
        raise _field_error("name", "the class name is empty")
    if len(name) > MAX_CLASS_NAME:
        raise _field_error("name", f"at most {MAX_CLASS_NAME} characters, got {len(name)}")
    if name in label_set.map_class_names:
        raise _field_error("name", f"{name!r} is already a class of this label set")
    if color is not None and not HEX_COLOR.match(color):
        raise _field_error("color", f"{color!r} is not a #rrggbb colour")
    classes = list(label_set.classes)
    classes.append({"name": name, "color": color or default_class_colors(len(classes) + 1)[-1]})
    label_set.classes = classes
    label_set.save(update_fields=["classes", "updated_at"])
    return label_set


def analysis_apply_reviews(*, analysis: Analysis, owner: User) -> Analysis:
    """Start a new analysis like ``analysis`` that uses the reviewers' answers; returns it (queued).

    Same AOI, label set, years and parameters: the window lookups, the label lookup and the TasGen
    fit come from their caches; relabeling applies the fitted model with the answers on top, then the
    maps, statistics and exports are made anew. Raises :class:`ApplicationError` (409) while the
    analysis is not done and (400) when its label set has no answers.
    """
    if analysis.status != Analysis.Status.DONE:
        raise ApplicationError(
            f"the analysis is {analysis.status}; apply reviews once it is done", status=409
        )
    if not Review.objects.filter(label__label_set_id=analysis.label_set_id).exists():
        raise ApplicationError("no reviews to apply: confirm or correct samples of the review queue first")
    name = analysis.name.removesuffix(" · reviewed")
    return analysis_create(
        owner=owner,
        aoi=analysis.aoi,
        label_set=analysis.label_set,
        start_year=analysis.start_year,
        end_year=analysis.end_year,
        name=f"{name[:185]} · reviewed",
        parameters=dict(analysis.parameters or {}),
    )
