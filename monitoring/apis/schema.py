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

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:  # type: ignore[no-untyped-def]
        name = super().get_serializer_name(serializer, direction)
        cls = serializer if inspect.isclass(serializer) else type(serializer)
        outer = cls.__qualname__.rpartition(".")[0].replace("<locals>", "")
        prefix = re.sub(r"\W", "", outer).removesuffix("Api")
        return name if not prefix or name.startswith(prefix) else prefix + name
