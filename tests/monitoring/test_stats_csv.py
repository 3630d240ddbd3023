"""The statistics CSV says which accuracy figure is which (no database: stats dicts as the pipeline and
the validation service store them; the figures come from the Olofsson et al. 2014 worked example)."""

from __future__ import annotations

import csv
import io

import numpy as np

from ml.accuracy import Agreement, area_adjusted_accuracy
from monitoring.services.exports import (
    AGREEMENT_MATRIX,
    AGREEMENT_TABLE,
    STATS_COLUMNS,
    VALIDATION_MATRIX,
    VALIDATION_TABLE,
    stats_csv,
)

CLASSES = ["Deforestation", "Forest gain", "Stable forest", "Stable non-forest"]
TABLE_8 = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])


def _stats() -> dict:
    agreement = Agreement(
        classes=tuple(CLASSES), confusion=TABLE_8, folds=5, blocks=40, block_size=2000.0, labels=640
    )
    validation = area_adjusted_accuracy(
        TABLE_8, np.array([200_000, 150_000, 3_200_000, 6_450_000]) * 0.09, CLASSES
    )
    return {
        "areas": {
            "years": [2012],
            "area_ha": [{"Stable forest": 10.0}],
            "classes": CLASSES,
            "transitions": [],
        },
        "accuracy": agreement.as_dict(),
        "validation": {"method": "olofsson2014", "assessments": [{"year": 2012, **validation.as_dict()}]},
    }


def _rows(stats: dict) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(stats_csv(stats).decode()))
    assert reader.fieldnames == STATS_COLUMNS
    return list(reader)


def test_each_figure_has_its_own_table_name() -> None:
    rows = _rows(_stats())
    by_table: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_table.setdefault(r["table"], []).append(r)
    assert set(by_table) == {"area", AGREEMENT_TABLE, AGREEMENT_MATRIX, VALIDATION_TABLE, VALIDATION_MATRIX}
    overall = next(r for r in by_table[AGREEMENT_TABLE] if r["measure"] == "overall_agreement")
    assert float(overall["estimate"]) == round(float(np.trace(TABLE_8) / TABLE_8.sum()), 4)
    assert overall["ci95_half_width"] == ""  # agreement carries no interval
    assert sum(int(r["samples"]) for r in by_table[AGREEMENT_MATRIX]) == 640
    assert sum(int(r["samples"]) for r in by_table[VALIDATION_MATRIX]) == 640


def test_validation_rows_carry_the_papers_estimates_and_intervals() -> None:
    rows = [r for r in _rows(_stats()) if r["table"] == VALIDATION_TABLE]
    get = {(r["measure"], r["from_class"]): r for r in rows}
    assert get[("overall_accuracy", "")]["year"] == "2012"
    assert round(float(get[("overall_accuracy", "")]["estimate"]), 2) == 0.95
    area = get[("area_adjusted_ha", "Deforestation")]
    assert round(float(area["estimate"])) == 21158 and round(float(area["ci95_half_width"])) == 6158
    assert area["hectares"] == area["estimate"]
    assert float(get[("area_mapped_ha", "Deforestation")]["hectares"]) == 18000.0
    assert float(get[("users_accuracy", "Forest gain")]["estimate"]) == round(55 / 75, 4)
    assert get[("mapped_area_share_described", "")]["estimate"] == "1.0"


def test_older_stats_without_the_figures_still_write() -> None:
    stats = _stats()
    stats["accuracy"] = {"oa": 0.96, "kappa": 0.9}  # the earlier figure of analyses run before this one
    del stats["validation"]
    assert {r["table"] for r in _rows(stats)} == {"area"}
