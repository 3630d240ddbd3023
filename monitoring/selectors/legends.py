"""Reads of map legends: the entries of every product kind of an analysis, from ``ml.maps``."""

from __future__ import annotations

from ml.colormaps import legend
from ml.errors import MLError
from monitoring.errors import ApplicationError
from monitoring.models import Analysis

LEGENDS = {  # response key -> ml.maps legend name
    "landcover": "landcover",
    "change_last_year": "years",
    "change_count": "change_count",
    "change_from_to": "from_to",
    "similarity": "similarity",
    "uncertainty": "uncertainty",
}


def analysis_legends(*, analysis: Analysis) -> dict[str, list[dict]]:
    """Legend entries ``{"value", "label", "color"}`` of every product kind of ``analysis``."""
    classes = analysis.label_set.map_classes
    names = [c["name"] for c in classes] or None
    colors = [c["color"] for c in classes if c.get("color")] or None
    if colors is not None and names is not None and len(colors) != len(names):
        colors = None
    out: dict[str, list[dict]] = {}
    for key, name in LEGENDS.items():
        try:
            out[key] = legend(name, names, analysis.years, colors=colors)
        except MLError as exc:
            raise ApplicationError(f"legend {key!r} cannot be built: {exc}") from exc
    return out
