"""Property-based API fuzzing from the OpenAPI schema (schemathesis): no operation answers a 5xx.

Runs in-process against the WSGI application, authenticated with a DRF token of a user who owns a
label set and an AOI (so ids 1..n exist), bounded to a few examples per operation: valid requests
(positive mode) and requests that break the schema (negative mode: wrong types, out-of-range query
parameters, missing fields), then stateful sequences that follow the schema's links (create an AOI,
then read, patch or delete it by the id the answer gave). Every answer is also checked against the
schema by the test settings' middleware (``tests/openapi_responses.py``). The counts are printed
(``SCHEMATHESIS:``) for docs/benchmarks/faults_security_load.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from tests.monitoring.conftest import UPLOADS, upload

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = 10
STATEFUL_EXAMPLES = 15  # scenarios of the state machine


@contextmanager
def keep_test_connection() -> Iterator[None]:
    """Requests to the WSGI app keep the test's database connection (as Django's test Client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def token(api, owner) -> str:
    assert upload(api, "/api/labelsets/upload/", UPLOADS / "labels_mt.csv").status_code == 201
    assert upload(api, "/api/aois/upload/", UPLOADS / "aoi_mt.geojson").status_code == 201
    return Token.objects.create(user=owner).key


def test_no_operation_answers_a_server_error(token) -> None:
    """Every operation of the schema, ``MAX_EXAMPLES`` generated requests each, none answers 5xx."""
    from webapp.wsgi import application

    with keep_test_connection():
        _fuzz(schemathesis.openapi.from_wsgi("/api/schema/", application), token)


def _fuzz(api_schema, token: str) -> None:
    headers = {"Authorization": f"Token {token}"}
    server_errors: list[str] = []
    calls: list[int] = []
    no_negative: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation, mode in [
        (op, m) for op in operations for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:
            response = case.call(headers=headers)
            calls.append(response.status_code)
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                )

        try:
            run()
        except Unsatisfiable:  # negative mode: nothing in this operation can be made invalid
            assert mode == GenerationMode.NEGATIVE, operation.label
            no_negative.append(operation.label)
    print(
        f"SCHEMATHESIS: {len(operations)} operations, {len(calls)} requests, "
        f"{sum(400 <= s < 500 for s in calls)} refused (4xx), {sum(s >= 500 for s in calls)} server errors; "
        f"{len(no_negative)} operations have nothing to make invalid"
    )
    assert not server_errors, "\n".join(server_errors)


def test_stateful_sequences_answer_no_server_error(token) -> None:
    """Sequences along the schema's links (create -> read / patch / delete ...), none answers 5xx."""
    from webapp.wsgi import application

    calls: list[int] = []
    server_errors: list[str] = []
    with keep_test_connection():
        api_schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
        links = sum(
            len(response.get("links", {}))
            for item in api_schema.raw_schema["paths"].values()
            for op in item.values()
            for response in op.get("responses", {}).values()
        )
        assert links >= 10, "the schema declares links from the create operations"

        class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]  # a base class built at run time
            def get_call_kwargs(self, case):
                return {"headers": {"Authorization": f"Token {token}"}}

            def validate_response(self, response, case, **kwargs) -> None:
                calls.append(response.status_code)
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        Workflow.run(
            settings=settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=6,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
        )
    print(
        f"SCHEMATHESIS STATEFUL: {links} links, {len(calls)} requests, "
        f"{sum(400 <= s < 500 for s in calls)} refused (4xx), {len(server_errors)} server errors"
    )
    assert calls and not server_errors, "\n".join(server_errors)
