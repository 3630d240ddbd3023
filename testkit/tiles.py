"""Web-mercator XYZ tile arithmetic for tests and benchmarks."""

from __future__ import annotations

import math


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ (web-mercator) tile holding a lon/lat at zoom ``z``."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y
