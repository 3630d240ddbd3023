"""Query parameters: every view reads them through a :class:`FilterSerializer`, never by hand.

A view declares its query parameters as a nested ``FilterSerializer`` subclass and reads them with
``FilterSerializer.parse(request)``; ``@extend_schema(parameters=[ThatSerializer])`` puts the same
fields (type, range, default, choices) in the OpenAPI schema, so what the code reads and what the
schema says are one declaration, and schemathesis fuzzes every parameter the code reads. A wrong
value answers 400 ``{"<parameter>": ["<why>"]}``; parameters a view does not declare are ignored.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request


class FilterSerializer(serializers.Serializer):
    """Base of the per-view query-parameter serializers (``monitoring/apis/*.py``)."""

    @classmethod
    def parse(cls, request: Request) -> dict[str, Any]:
        """The validated query parameters of ``request`` (defaults filled in); 400 naming a bad one."""
        serializer = cls(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
