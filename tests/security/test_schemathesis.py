"""Property-based API fuzzing from the OpenAPI schema (schemathesis): no operation answers a 5xx.

Runs in-process against the WSGI application, authenticated with a DRF token of a user who owns a
label set and an AOI (so ids 1..n exist), bounded to a few examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token

from tests.monitoring.conftest import UPLOADS, upload

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = 10


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
def token(api, owner) -> str:  # type: ignore[no-untyped-def]
    assert upload(api, "/api/labelsets/upload/", UPLOADS / "labels_mt.csv").status_code == 201
    assert upload(api, "/api/aois/upload/", UPLOADS / "aoi_mt.geojson").status_code == 201
    return Token.objects.create(user=owner).key


def test_no_operation_answers_a_server_error(token) -> None:  # type: ignore[no-untyped-def]
    """Every operation of the schema, ``MAX_EXAMPLES`` generated requests each, none answers 5xx."""
    from webapp.wsgi import application

    with keep_test_connection():
        _fuzz(schemathesis.openapi.from_wsgi("/api/schema/", application), token)


def _fuzz(api_schema, token: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Token {token}"}
    server_errors: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=headers)
            calls.append(response.status_code)
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                )

        run()
    print(
        f"SCHEMATHESIS: {len(operations)} operations, {len(calls)} requests, "
        f"{sum(s >= 500 for s in calls)} server errors"
    )
    assert not server_errors, "\n".join(server_errors)
