"""Database connection lost during a request: 503 with a message (JSON for the API), never a traceback.

Two real faults on the PostGIS test server, no patching: the request's backend is killed with
``pg_terminate_backend`` from a second connection (the request runs on the dead connection), and the
server refuses connections (the request must connect, and the address has nothing listening).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import Client

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
MESSAGE = "database is unavailable"


def _dsn() -> str:
    s = connection.settings_dict
    return f"host={s['HOST']} port={s['PORT']} user={s['USER']} dbname={s['NAME']}"


@contextmanager
def backend_killed_under_the_request() -> Iterator[None]:
    """Terminate the backend of Django's open connection; health checks off so the request uses it."""
    connection.ensure_connection()
    with connection.cursor() as cur:
        cur.execute("select pg_backend_pid()")
        pid = cur.fetchone()[0]
    conn: Any = connection  # health_check_enabled (Django 5.1) is not in the stubs
    health = conn.health_check_enabled
    conn.health_check_enabled = False
    with psycopg.connect(_dsn(), autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", [pid])
    try:
        yield
    finally:
        conn.health_check_enabled = health
        connection.close()


@contextmanager
def database_refusing_connections() -> Iterator[None]:
    """Point Django's connection at a local port where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    connection.close()
    old = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = closed_port
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = old


@pytest.mark.parametrize("fault", [backend_killed_under_the_request, database_refusing_connections])
def test_lost_database_answers_503_with_a_message(owner, fault) -> None:
    client = Client()
    client.force_login(owner)
    assert client.get("/api/analyses/").status_code == 200
    with fault():
        api = client.get("/api/analyses/")
    assert api.status_code == 503, api.content[:300]
    assert MESSAGE in api.json()["detail"] and api["Retry-After"]
    assert b"Traceback" not in api.content

    with fault():
        page = client.get("/")
    assert page.status_code == 503 and MESSAGE in page.content.decode()
    assert b"Traceback" not in page.content and b"<html" not in page.content.lower()

    with fault():
        token_login = Client().post("/api/token/", {"username": "owner", "password": "x"})
    assert token_login.status_code == 503 and MESSAGE in token_login.json()["detail"]

    # the next request after the fault gets a fresh connection
    assert client.get("/api/analyses/").status_code == 200


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("owner", password="owner-pass-2026")
