"""The accuracy figure of a run: agreement with the user's labels at their reference years.

Computed in the classify stage (it needs the dynamic samples and the label lookup only): each label's
class at its reference year is predicted by a mapper trained on the dynamic samples of other spatial
blocks (:func:`ml.accuracy.grouped_reference_agreement`). Labels that TasGen relabelled in other years
are scored only at the year the user vouched for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.warp import transform as warp_transform

from ml.accuracy import DEFAULT_BLOCK_M, grouped_reference_agreement, spatial_blocks
from ml.atomic import write_bytes_atomic
from ml.errors import SamplesError
from ml.esd.codec import indices_to_codes
from ml.mapping import MapperConfig, features
from monitoring.services.pipeline.lookup import labels_path
from monitoring.services.pipeline.relabel import relabel_path
from monitoring.storage.inputs import AnalysisInputs
from monitoring.storage.paths import load_npz

METRES_PER_DEGREE = 111_320.0  # block size of a geographic grid, at the equator


def block_size(inputs: AnalysisInputs) -> float:
    """Side of the spatial blocks in grid units: ``parameters["accuracy_block_m"]`` (metres) or 2 km."""
    metres = float(inputs.analysis.parameters.get("accuracy_block_m") or DEFAULT_BLOCK_M)
    return metres / METRES_PER_DEGREE if inputs.grid.crs.is_geographic else metres


def label_blocks(
    inputs: AnalysisInputs, label_pk: np.ndarray, lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    """Spatial block of each label pixel; every pixel of a (polygon) label takes its first pixel's block."""
    x, y = warp_transform("EPSG:4326", inputs.grid.crs, list(lon), list(lat))
    blocks = spatial_blocks(np.asarray(x), np.asarray(y), block_size(inputs))
    first: dict[int, int] = {}
    for pk, b in zip(label_pk.tolist(), blocks.tolist(), strict=True):
        first.setdefault(int(pk), int(b))
    return np.array([first[int(pk)] for pk in label_pk], dtype=np.int64)


def reference_agreement(inputs: AnalysisInputs, config: MapperConfig) -> dict[str, Any]:
    """The agreement figure as stored in ``stats["accuracy"]`` (``{"method", "error"}`` when impossible)."""
    dyn = load_npz(relabel_path(inputs))
    lab = load_npz(labels_path(inputs))
    names = inputs.class_names
    index = {n: i for i, n in enumerate(names)}
    years = np.asarray(dyn["years"])
    by_pk = {label.pk: label for label in inputs.labels}
    label_pk = dyn["label_pk"]
    klass = dyn["klass"]
    valid = dyn["valid"]
    dynamic = np.vectorize(lambda c: index.get(c, -1), otypes=[np.int64])(klass)  # (S, Y)
    dynamic[~valid] = -1
    ref_year = np.array([inputs.reference_year(by_pk[int(pk)]) for pk in label_pk], dtype=np.int64)
    in_span = (ref_year >= years[0]) & (ref_year <= years[-1])
    ref_idx = np.clip(np.searchsorted(years, ref_year), 0, len(years) - 1)
    reference = np.array([index.get(str(c), -1) for c in dyn["static"]], dtype=np.int64)
    testable = in_span & valid[np.arange(len(label_pk)), ref_idx]
    reference[~testable] = -1
    x = features(indices_to_codes(lab["indices"]))  # (S, Y, 72)
    try:
        agreement = grouped_reference_agreement(
            x,
            dynamic,
            reference,
            ref_idx,
            label_blocks(inputs, label_pk, dyn["lon"], dyn["lat"]),
            names,
            years=years,
            label_ids=label_pk,
            block_size=float(inputs.analysis.parameters.get("accuracy_block_m") or DEFAULT_BLOCK_M),
            config=config,
        )
    except SamplesError as exc:
        return {"method": "reference_grouped_cv", "error": str(exc)}
    return agreement.as_dict()


def agreement_path(folder: Path) -> Path:
    return folder / "agreement.json"


def write_reference_agreement(inputs: AnalysisInputs, config: MapperConfig, folder: Path) -> dict[str, Any]:
    """Compute the figure once per classify cache folder (content-keyed) and return it."""
    path = agreement_path(folder)
    if not path.exists():
        write_bytes_atomic(path, json.dumps(reference_agreement(inputs, config)).encode())
    return json.loads(path.read_text())
