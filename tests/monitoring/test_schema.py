"""The OpenAPI schema is valid, warning-free, and declares what the views read.

``manage.py spectacular --validate --fail-on-warn`` runs here, so ``make test`` fails on a schema
warning; every query parameter a view reads comes from a ``FilterSerializer`` (grep below) and a
wrong value answers 400 naming the parameter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    """The schema as ``manage.py spectacular --validate --fail-on-warn`` writes it (fails on a warning)."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _request_ref(schema: dict, path: str, method: str) -> str:
    body = schema["paths"][path][method]["requestBody"]["content"]
    return next(iter(body.values()))["schema"]["$ref"].rsplit("/", 1)[1]


def test_request_bodies_have_their_own_components(schema) -> None:
    """The five nested ``InputSerializer`` bodies no longer collapse into the analysis body."""
    bodies = {
        ("/api/aois/", "post"): {"name", "geometry"},
        ("/api/aois/upload/", "post"): {"file", "name"},
        ("/api/labelsets/upload/", "post"): {"file", "class_column", "allowed_classes"},
        ("/api/labelsets/{id}/labels/", "post"): {"points", "klass"},
        ("/api/labels/{id}/correct/", "post"): {"year", "klass"},
        ("/api/analyses/", "post"): {"aoi", "label_set", "start_year", "parameters"},
    }
    names = {}
    for (path, method), fields in bodies.items():
        name = _request_ref(schema, path, method)
        names[(path, method)] = name
        properties = schema["components"]["schemas"][name]["properties"]
        assert fields <= set(properties), (path, name, sorted(properties))
    assert len(set(names.values())) == len(names), names
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_analysis_parameters_are_declared_with_ranges(schema) -> None:
    components = schema["components"]["schemas"]
    tasgen = components["TasGenParametersRequest"]["properties"]
    assert tasgen["epochs"]["type"] == "integer" and tasgen["epochs"]["minimum"] == 1
    assert tasgen["epochs"]["default"] == 300
    enum = tasgen["relabel_model"]["allOf"][0]["$ref"].rsplit("/", 1)[1]
    assert components[enum]["enum"] == ["logistic", "forest"]
    top = components["AnalysisParametersRequest"]["properties"]
    assert {"seed", "year_start_month", "change_pair", "tasgen", "classifier"} <= set(top)


def test_every_query_parameter_is_declared(schema) -> None:
    params = {
        p["name"]: p["schema"]
        for p in schema["paths"]["/api/analyses/{id}/samples/"]["get"]["parameters"]
        if p["in"] == "query"
    }
    assert params["limit"]["minimum"] == 1 and params["limit"]["maximum"] == 5000
    assert params["offset"]["minimum"] == 0
    assert set(params["fmt"]["enum"]) == {"json", "geojson", "csv", "gpkg"}
    pixel = {p["name"]: p for p in schema["paths"]["/api/analyses/{id}/pixel/"]["get"]["parameters"]}
    assert pixel["lon"]["required"] and pixel["lat"]["required"]
    threshold_path = "/api/analyses/{id}/similar/{token}/tiles/{z}/{x}/{y}.png"
    assert any(p["name"] == "threshold" for p in schema["paths"][threshold_path]["get"]["parameters"])


def test_no_view_reads_query_parameters_by_hand() -> None:
    """Outside ``monitoring/apis/filters.py`` nothing in the API modules reads ``query_params``/``GET``."""
    offenders = []
    for path in sorted((REPO / "monitoring" / "apis").glob("*.py")):
        if path.name == "filters.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bquery_params\b|request\.GET\b", line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, offenders


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=abc", "limit"),
        ("limit=-5", "limit"),
        ("limit=5001", "limit"),
        ("offset=abc", "offset"),
        ("offset=-1", "offset"),
        ("fmt=xml", "fmt"),
        ("changed=maybe", "changed"),
    ],
)
def test_bad_sample_query_answers_400_naming_it(api, analysis_row, query, parameter) -> None:
    response = api.get(f"/api/analyses/{analysis_row.pk}/samples/?{query}")
    assert response.status_code == 400, response.content[:200]
    assert parameter in response.json(), response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [("lon=abc&lat=1", "lon"), ("lon=1", "lat"), ("lon=200&lat=1", "lon"), ("lon=nan&lat=1", "lon")],
)
def test_bad_pixel_query_answers_400_naming_it(api, analysis_row, query, parameter) -> None:
    response = api.get(f"/api/analyses/{analysis_row.pk}/pixel/?{query}")
    assert response.status_code == 400, response.content[:200]
    assert parameter in response.json(), response.json()


@pytest.mark.django_db
def test_good_sample_query_pages(api, analysis_row) -> None:
    body = api.get(f"/api/analyses/{analysis_row.pk}/samples/?limit=2&offset=0&changed=false").json()
    assert body == {"count": 0, "results": []}
    assert api.get(f"/api/analyses/{analysis_row.pk}/stats/?fmt=json").status_code == 200
    assert api.get(f"/api/analyses/{analysis_row.pk}/stats/?fmt=pdf").json()["fmt"]


def test_every_api_answer_of_the_suite_is_checked_against_the_schema() -> None:
    """The checking middleware is installed and refuses an answer that does not match."""
    from django.conf import settings
    from django.http import HttpResponse
    from django.test import RequestFactory

    from tests.openapi_responses import ResponseSchemaMiddleware, check_response

    assert settings.MIDDLEWARE[0] == f"{ResponseSchemaMiddleware.__module__}.ResponseSchemaMiddleware"
    request = RequestFactory().get("/api/analyses/")
    check_response(request, HttpResponse(b"[]", content_type="application/json"))
    with pytest.raises(AssertionError, match="does not match the OpenAPI schema"):
        check_response(request, HttpResponse(b'{"oops": 1}', content_type="application/json"))
    with pytest.raises(AssertionError, match="does not match the OpenAPI schema"):
        bad_row = b'[{"id": "x", "name": 3}]'
        check_response(request, HttpResponse(bad_row, content_type="application/json"))
    samples = RequestFactory().get("/api/analyses/1/samples/?limit=2")
    check_response(samples, HttpResponse(b'{"count": 0, "results": []}', content_type="application/json"))
    with pytest.raises(AssertionError):
        check_response(samples, HttpResponse(b'{"count": "many"}', content_type="application/json"))
    error = HttpResponse(b'{"limit": ["Ensure this value is less than or equal to 5000."]}', status=400)
    error["Content-Type"] = "application/json"
    check_response(RequestFactory().get("/api/analyses/1/samples/?limit=9999"), error)
