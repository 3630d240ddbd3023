"""Deterministic file locations of an analysis (under MEDIA_ROOT) and atomic writes of arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings

from ml.atomic import save_npz_atomic


def analysis_dir(analysis_id: int) -> Path:
    """``MEDIA_ROOT/analyses/<id>/``: every published output of one analysis."""
    return Path(settings.MEDIA_ROOT) / "analyses" / str(analysis_id)


def work_dir(analysis_id: int, stage: str) -> Path:
    """Intermediate files of a stage (window arrays), under the analysis folder."""
    return analysis_dir(analysis_id) / "work" / stage


def cache_dir(kind: str, key: str) -> Path:
    """``MEDIA_ROOT/cache/<kind>/<key>/``: stage results shared by analyses with the same inputs."""
    return Path(settings.MEDIA_ROOT) / "cache" / kind / key


def relative(path: Path) -> str:
    """A path relative to MEDIA_ROOT (what ``MapProduct.path`` stores)."""
    return str(path.relative_to(Path(settings.MEDIA_ROOT)))


def media_file(stored: str) -> Path | None:
    """The file a stored path (``MapProduct.path``, relative to MEDIA_ROOT) names, resolved; None when it
    is missing or lies outside MEDIA_ROOT (a tampered or stale row never makes a request read elsewhere)."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / stored).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays atomically: a killed worker leaves the old file or none, never half a file."""
    save_npz_atomic(path, **arrays)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
