"""Analysis parameters: one declared schema; a bad one is a 400 naming it, before anything is stored.

And a step that fails unexpectedly shows the user plain words and a log reference, never the
exception's name; the traceback is in the log under that reference.
"""

from __future__ import annotations

import logging
from dataclasses import fields

import pytest
from rest_framework.exceptions import ValidationError

from ml.mapping import MapperConfig
from ml.smoothing import SmoothingConfig
from ml.tasgen.pipeline import TasGenConfig
from ml.temporal import TemporalConfig
from monitoring.models import Analysis
from monitoring.parameters import (
    ClassifierParametersSerializer,
    SmoothingParametersSerializer,
    TasGenParametersSerializer,
    TemporalParametersSerializer,
    analysis_parameters_clean,
)
from monitoring.services.pipeline import runner

BAD = [  # (parameters, the path of the field the 400 names)
    ({"tasgen": {"epochs": "lots"}}, ["tasgen", "epochs"]),
    ({"tasgen": {"epochs": 0}}, ["tasgen", "epochs"]),
    ({"tasgen": {"epochz": 5}}, ["tasgen", "epochz"]),
    ({"tasgen": {"lr": "fast"}}, ["tasgen", "lr"]),
    ({"tasgen": {"relabel_model": "svm"}}, ["tasgen", "relabel_model"]),
    ({"tasgen": {"crossfit_folds": 1}}, ["tasgen", "crossfit_folds"]),
    ({"tasgen": {"gibbs_burn_in": 10, "gibbs_sweeps": 5}}, ["tasgen", "gibbs_burn_in"]),
    ({"tasgen": "fast"}, ["tasgen"]),
    ({"classifier": {"trees": -1}}, ["classifier", "trees"]),
    ({"seed": "x"}, ["seed"]),
    ({"year_start_month": 13}, ["year_start_month"]),
    ({"change_pair": [2008]}, ["change_pair"]),
    ({"change_pair": [2008, 2008]}, ["change_pair"]),
    ({"change_pair": [2001, 2008]}, ["change_pair"]),  # 2001 is outside the analysis' 2007-2013
    ({"colour": "red"}, ["colour"]),
    ({"temporal": {"switch_odds": 1.5}}, ["temporal", "switch_odds"]),
    ({"temporal": {"prior_share": -0.1}}, ["temporal", "prior_share"]),
    ({"temporal": {"enabeld": False}}, ["temporal", "enabeld"]),
    ({"smoothing": {"window": 4}}, ["smoothing", "window"]),
    ({"smoothing": {"smoothness": 0}}, ["smoothing", "smoothness"]),
]


def _named(body: dict, path: list[str]) -> bool:
    node = body.get("parameters", {})
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


@pytest.mark.django_db
@pytest.mark.parametrize(("parameters", "path"), BAD, ids=[str(p) for p, _ in BAD])
def test_bad_parameters_answer_400_naming_the_field_and_store_nothing(
    api, analysis_row, parameters, path
) -> None:
    before = Analysis.objects.count()
    response = api.post(
        "/api/analyses/",
        {
            "aoi": analysis_row.aoi_id,
            "label_set": analysis_row.label_set_id,
            "start_year": 2007,
            "end_year": 2013,
            "parameters": parameters,
        },
        format="json",
    )
    assert response.status_code == 400, response.content[:300]
    assert _named(response.json(), path), response.json()
    assert Analysis.objects.count() == before


def test_clean_keeps_only_given_keys_typed() -> None:
    clean = analysis_parameters_clean({"tasgen": {"epochs": "60", "rounds": 1}, "seed": 3})
    assert clean == {"tasgen": {"epochs": 60, "rounds": 1}, "seed": 3}
    assert analysis_parameters_clean(None) == {}
    with pytest.raises(ValidationError):
        analysis_parameters_clean({"tasgen": {"epochs": "lots"}})


def test_every_config_field_is_declared_with_its_default() -> None:
    """A new TasGen / classifier setting must be declared (with its range) to be settable."""
    tasgen = TasGenParametersSerializer().fields
    for f in fields(TasGenConfig):
        assert f.name in tasgen, f"TasGenConfig.{f.name} has no declared parameter"
        assert tasgen[f.name].default == f.default, f.name
    classifier = ClassifierParametersSerializer().fields
    for f in fields(MapperConfig):
        if f.name != "seed":  # the top-level ``seed``
            assert f.name in classifier and classifier[f.name].default == f.default, f.name
    for serializer, config in (
        (TemporalParametersSerializer, TemporalConfig),
        (SmoothingParametersSerializer, SmoothingConfig),
    ):
        declared = serializer().fields
        for f in fields(config):
            assert f.name in declared and declared[f.name].default == f.default, (config.__name__, f.name)


@pytest.mark.django_db
def test_unexpected_failure_shows_plain_words_and_a_log_reference(analysis_row, caplog) -> None:
    def broken(analysis_id: int) -> None:
        return sorted([1, "a"])  # type: ignore[type-var, return-value]  # a TypeError on purpose, as in issue 17

    with caplog.at_level(logging.ERROR, logger=runner.logger.name), pytest.raises(TypeError):
        runner._guarded(analysis_row.pk, "relabel", broken)
    analysis_row.refresh_from_db()
    message = analysis_row.error_message
    assert analysis_row.status == Analysis.Status.FAILED
    assert "TypeError" not in message and "not supported" not in message and "Traceback" not in message
    assert "relabel" in message
    reference = message.rsplit("reference: ", 1)[1].rstrip(".")
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is TypeError
