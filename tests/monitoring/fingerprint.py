"""A fingerprint of the demo analysis' outputs: hashes of its dynamic samples, statistics and COG pixels.

Refactors must not change what the demo analysis computes; :func:`demo_fingerprint` reduces its
outputs to short hashes (one per sample table, statistics key and COG) so a test can compare them
with the committed ``tests/data/demo_fingerprint.json`` and name exactly what changed. The hashes
are exact (no rounding): on one machine the pipeline is deterministic (fixed seeds, one thread).
Refresh the file after an intended change of results with ``make fingerprint``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

FINGERPRINT_FILE = Path(__file__).resolve().parents[1] / "data" / "demo_fingerprint.json"
REFRESH_HINT = (
    "If this change of results is intended, refresh the fingerprint with `make fingerprint` "
    "(ESD_FINGERPRINT_UPDATE=1 pytest --runslow tests/monitoring/test_demo_fingerprint.py) and commit "
    "tests/data/demo_fingerprint.json with the change."
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def samples_hash(analysis_id: int) -> str:
    """Hash of every dynamic sample (label row, year, point, classes, scores, attribution), in order."""
    from monitoring.models import DynamicSample

    rows = [
        (
            s.label.row,
            s.year,
            repr(s.geometry.x),
            repr(s.geometry.y),
            s.static_class,
            s.dynamic_class,
            s.changed,
            repr(s.anomaly_score),
            repr(s.confidence),
            s.attribution,
        )
        for s in DynamicSample.objects.filter(analysis_id=analysis_id)
        .select_related("label")
        .order_by("label__row", "year")
    ]
    return _sha(_json(rows))


def cog_hash(path: Path) -> str:
    """Hash of a GeoTIFF's pixels (every band, dtype, shape), no-data value, CRS and transform."""
    import rasterio

    with rasterio.open(path) as src:
        data = src.read()
        h = hashlib.sha256()
        h.update(
            _json(
                [str(data.dtype), list(data.shape), repr(src.nodata), src.crs.to_wkt(), list(src.transform)]
            )
        )
        h.update(np.ascontiguousarray(data).tobytes())
    return h.hexdigest()[:16]


def demo_fingerprint(analysis_id: int, folder: Path) -> dict[str, Any]:
    """``{"samples": hash, "stats": {key: hash}, "cogs": {file name: hash}}`` of one finished analysis."""
    from monitoring.models import Analysis

    stats = Analysis.objects.get(pk=analysis_id).stats or {}
    return {
        "samples": samples_hash(analysis_id),
        "stats": {key: _sha(_json(value)) for key, value in sorted(stats.items())},
        "cogs": {p.name: cog_hash(p) for p in sorted(folder.glob("*.tif"))},
    }


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """One line per hash that differs, appears or disappears (``cogs/landcover_2010.tif: a -> b``)."""

    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}/"))
            else:
                out[f"{prefix}{k}"] = str(v)
        return out

    a, b = flat(expected), flat(actual)
    return [
        f"{k}: {a.get(k, 'absent')} -> {b.get(k, 'absent')}"
        for k in sorted(a.keys() | b.keys())
        if a.get(k) != b.get(k)
    ]
