"""Test-settings middleware: every API answer the test suite gets is checked against the OpenAPI schema.

``webapp.settings.test`` installs :class:`ResponseSchemaMiddleware` (``ESD_CHECK_RESPONSES=0``
turns it off). For each request to a URL of the schema it validates the response with openapi-core
(status code documented, content type declared, JSON body matching its schema); a mismatch raises
``AssertionError``, which the Django test client re-raises in the test that made the request (a
live server answers 500, which fails the browser test). The schema is generated once per process
from the code, as ``/api/schema/`` serves it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SKIPPED_PREFIXES = ("/api/schema/", "/api/docs/", "/api/redoc/")


@functools.cache
def openapi() -> OpenAPI:
    from drf_spectacular.generators import SchemaGenerator

    return OpenAPI.from_dict(SchemaGenerator().get_schema(request=None, public=True))


def check_response(request: HttpRequest, response: HttpResponse) -> None:
    """Raise ``AssertionError`` when ``response`` does not match the schema of ``request``'s operation."""
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    streaming = isinstance(response, StreamingHttpResponse) or getattr(response, "streaming", False)
    # files and images: the status and the declared content type are checked, not the bytes
    body = b"" if streaming or content_type != "application/json" else response.content
    openapi_request = MockRequest(
        "http://testserver",
        (request.method or "GET").lower(),
        request.path,
        args=dict(request.GET.items()),
        content_type=request.content_type or "application/json",
    )
    openapi_response = MockResponse(
        body, status_code=response.status_code, content_type=content_type or "application/json"
    )
    errors = list(openapi().iter_response_errors(openapi_request, openapi_response))
    errors = [e for e in errors if not (body == b"" and _is_body_error(e))]
    if errors:
        details = "; ".join(f"{type(e).__name__}: {e} {getattr(e, '__cause__', '') or ''}" for e in errors)
        raise AssertionError(
            f"{request.method} {request.get_full_path()} -> {response.status_code} {content_type}: "
            f"the answer does not match the OpenAPI schema: {details[:2000]}"
        )


def _is_body_error(error: Exception) -> bool:
    """Body errors of a response whose body was not read (files, images, empty answers)."""
    names = {type(error).__name__, type(getattr(error, "__cause__", None)).__name__}
    return bool(names & {"InvalidData", "MissingData", "DataValidationError", "MediaTypeDeserializeError"})


class ResponseSchemaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Built now, when Django loads the middleware (once per process): drf-spectacular loads its
        # extensions lazily and two threads generating a schema at once (a live server) can collide.
        openapi()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and not request.path.startswith(SKIPPED_PREFIXES)
            and getattr(request, "resolver_match", None) is not None
            and response.status_code not in (304, 405)
        ):
            check_response(request, response)
        return response
