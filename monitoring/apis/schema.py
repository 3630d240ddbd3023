"""The OpenAPI schema generator: unique component names for the views' nested serializers.

Every API class nests its own ``InputSerializer`` / ``OutputSerializer``; drf-spectacular names a
component after the class alone, so five ``InputSerializer`` bodies collapsed into one ``Input``
component (the wrong body documented for four endpoints). Here a nested serializer is named after
its view too: ``AoiListApi.InputSerializer`` -> ``AoiListInput`` (``AoiListInputRequest`` for the
request half). ``@extend_schema_serializer(component_name=...)`` and ``Meta.ref_name`` still win
(drf-spectacular asks this hook only when neither is set).
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer: Any, direction: Literal["request", "response"]) -> str:
        name = super().get_serializer_name(serializer, direction)
        cls = serializer if inspect.isclass(serializer) else type(serializer)
        outer = cls.__qualname__.rpartition(".")[0].replace("<locals>", "")
        prefix = re.sub(r"\W", "", outer).removesuffix("Api")
        return name if not prefix or name.startswith(prefix) else prefix + name


ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "An error answer: `detail` (a sentence for the user) for refusals, missing objects (404), "
        "authentication (401/403), conflicts (409), size limits (413), throttling (429, with "
        "Retry-After) and an unavailable database (503); or `{field: [messages]}` for invalid input "
        '(400), nested for nested fields (`{"parameters": {"tasgen": {"epochs": [...]}}}`).'
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: every operation documents its error answers (``default``: ``Error``)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {
        "description": "Error (see the Error schema for the codes)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for item in result.get("paths", {}).values():
        for operation in item.values():
            operation.setdefault("responses", {}).setdefault("default", error)
    return result


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: OpenAPI links from each create operation to the operations on what it made.

    ``POST /api/aois/`` (and ``/api/aois/upload/``) answers ``{"id"}``; every operation under
    ``/api/aois/{id}/`` gets a link with ``id: $response.body#/id``. Clients and stateful fuzzers
    (schemathesis) follow them to chain create -> read/update/delete.
    """
    paths = result.get("paths", {})
    for path, item in paths.items():
        post = item.get("post")
        if not post or "201" not in post.get("responses", {}):
            continue
        base = path.removesuffix("upload/")
        targets = {
            f"{op['operationId']}": {
                "operationId": op["operationId"],
                "parameters": {"id": "$response.body#/id"},
            }
            for other, other_item in paths.items()
            if other.startswith(base + "{id}/") and other.count("{") == 1
            for op in other_item.values()
        }
        if targets:
            post["responses"]["201"]["links"] = targets
    return result
