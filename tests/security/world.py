"""A user-owned world for the security tests: the real demo analysis of ``owner``, URLs from the resolver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from testkit.tiles import tile_of

# Demo raster (Mato Grosso, lon -55.99..-55.91, lat -12.05..-11.99): a tile and a pixel inside it.
DEMO_LON, DEMO_LAT = -55.95, -12.02
DEMO_YEAR = 2010
SECRET_NAME = "owner-secret-analysis"  # the owner's analysis name: must never reach another user


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full route (``api/aois/<int:pk>/``), name and the HTTP methods its view serves."""

    route: str
    name: str
    methods: tuple[str, ...]
    kwargs: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")


def _methods(callback: Any) -> tuple[str, ...]:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:  # a function view: its safe method only (forms are in test_csrf)
        return ("get",)
    allowed = set(getattr(view_class, "http_method_names", ()))
    return tuple(
        m for m in ("get", "post", "put", "patch", "delete") if m in allowed and hasattr(view_class, m)
    )


def routes() -> list[Route]:
    """Every URL pattern of the project except the admin site (only its index is listed)."""
    out: list[Route] = []

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                if str(p.pattern).startswith("admin"):
                    out.append(Route(prefix + str(p.pattern), "admin:index", ("get",), ()))
                    continue
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), p

    for route, pattern in walk(get_resolver().url_patterns, ""):
        out.append(
            Route(route, pattern.name or route, _methods(pattern.callback), tuple(pattern.pattern.converters))
        )
    return out


@dataclass
class World:
    """Objects of ``owner`` (a finished real analysis and its inputs) and the values that fill URL kwargs."""

    aoi: int
    label_set: int
    label: int
    analysis: int
    product: int
    similar_token: str
    owned_ids: set[int] = field(default_factory=set)

    def fill(self, route: Route) -> str:
        """The concrete URL of ``route`` with the owner's objects (raises for a kwarg it does not know)."""
        first = route.route.removeprefix("api/").split("/", 1)[0]
        pk_of = {
            "aois": self.aoi,
            "labelsets": self.label_set,
            "labels": self.label,
            "analyses": self.analysis,
        }
        z = 12
        x, y = tile_of(DEMO_LON, DEMO_LAT, z)
        values: dict[str, object] = {
            "product_pk": self.product,
            "z": z,
            "x": x,
            "y": y,
            "year": DEMO_YEAR,
            "year0": DEMO_YEAR - 1,  # a year pair of the from -> to view
            "year1": DEMO_YEAR,
            "name": "labels_template.csv",
            "uidb64": "MQ",
            "token": self.similar_token if first == "analyses" else "set-password",
        }
        if "pk" in route.kwargs:
            if first not in pk_of:
                raise KeyError(
                    f"{route.route}: add the owner object its <pk> names to tests/security/world.py"
                )
            values["pk"] = pk_of[first]
        url = "/" + route.route
        for kw in route.kwargs:
            if kw not in values:
                raise KeyError(f"{route.route}: add a value for <{kw}> to tests/security/world.py")
            url = re.sub(rf"<(?:\w+:)?{kw}>", str(values[kw]), url)
        return url
