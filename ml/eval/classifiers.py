"""Map-classifier comparison on held-out locations: ``python -m ml.eval.classifiers dev|protocol``.

Features are what the app classifies: the 72 ESD code values of a pixel-year, from the shipped
encoder of each sample file's bands (:func:`ml.eval.landcover.sample_features`). Every file is split
by :func:`ml.samples.location_holdout` (test fraction 0.3, seed 0: the split the shipped encoders
trained on, so the test locations were never seen by them).

- ``dev``: choices are made here. The training locations of that split are split again by location
  (seeds 100, 101, 102); each candidate trains on one part and is scored on the other.
- ``protocol``: reported once, after the choice: train on all training locations, score the test
  locations.

Times are single-thread (``threadpoolctl`` limit 1, forest ``n_jobs=1``): fit seconds per million
training rows (over all files) and predict throughput on one million real pixel-years (the Mato
Grosso 9-class features tiled; 200,000 for models slower than 0.1 M/s).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ml.mapping import MapperConfig, fit_mapper
from ml.samples import load_samples, location_holdout

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"
FILES = (
    "matogrosso_modis_9classes",
    "cerrado_modis_11classes",
    "cerrado_modis_2classes_multiyear",
    "matogrosso_modis_ndvi_4classes",
    "prodes_226_064_deforestation",
    "rondonia_landsat8_4classes",
)
TEST_FRACTION = 0.3
PROTOCOL_SEED = 0
DEV_SEEDS = (100, 101, 102)
PREDICT_ROWS = 1_000_000


Fit = Callable[[np.ndarray, np.ndarray, int], Any]


def _mapper(**kwargs: Any) -> Fit:
    def fit(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
        return fit_mapper(x, y, MapperConfig(seed=seed, n_jobs=1, **kwargs))

    return fit


def _hgb(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=seed).fit(x, y)


def _lightgbm(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
    import lightgbm  # optional: pip install lightgbm (not a project dependency)

    return lightgbm.LGBMClassifier(
        n_estimators=100,
        num_leaves=15,
        min_child_samples=5,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
        deterministic=True,
        force_col_wise=True,
    ).fit(x, y)


def candidates() -> dict[str, Fit]:
    """Name -> fit function; ``forest`` is the previous map classifier, ``mlp`` the chosen one."""
    found: dict[str, Fit] = {
        "forest": _mapper(model="forest"),
        "mlp": _mapper(model="mlp"),
        "mlp_h16": _mapper(model="mlp", hidden=16),
        "mlp_h64": _mapper(model="mlp", hidden=64),
        "mlp_s800": _mapper(model="mlp", steps=800),
        "hgb": _hgb,
    }
    try:
        import lightgbm  # noqa: F401

        found["lightgbm"] = _lightgbm
    except ImportError:
        pass
    return found


@dataclass(frozen=True)
class Encoded:
    """ESD code features of one sample file."""

    name: str
    x: np.ndarray  # (N, 72) float32
    y: np.ndarray  # (N,) int64 class index
    lon: np.ndarray
    lat: np.ndarray


def encode_file(name: str, folder: Path = SAMPLES) -> Encoded:
    from ml.eval.landcover import sample_features

    samples = load_samples(folder / f"{name}.npz")
    feats = sample_features(samples, "esd")
    _, y = np.unique(feats.y, return_inverse=True)
    return Encoded(name, feats.X, y.astype(np.int64), samples.lon, samples.lat)


def splits(data: Encoded, mode: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) boolean masks of ``data`` for ``mode`` (``dev``: one per dev seed)."""
    test = location_holdout(data.lon, data.lat, TEST_FRACTION, PROTOCOL_SEED)
    if mode == "protocol":
        return [(~test, test)]
    out = []
    for seed in DEV_SEEDS:
        inner = location_holdout(data.lon, data.lat, TEST_FRACTION, seed)
        out.append((~test & ~inner, ~test & inner))
    return out


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.classes_)[np.asarray(model.predict_proba(x)).argmax(axis=1)]


def compare(mode: str, data: list[Encoded], names: list[str] | None = None) -> dict[str, Any]:
    """OA per file and split, mean OA, fit and predict speed of every candidate (single thread)."""
    found = candidates()
    names = names or list(found)
    rows = np.concatenate([d.x for d in data[:1]])
    big = np.tile(rows, (PREDICT_ROWS // len(rows) + 1, 1))[:PREDICT_ROWS]
    out: dict[str, Any] = {"mode": mode, "files": [d.name for d in data], "candidates": {}}
    with threadpool_limits(1):
        for name in names:
            fit = found[name]
            oa: dict[str, list[float]] = {}
            fit_s, fit_rows = 0.0, 0
            for d in data:
                for k, (train, test) in enumerate(splits(d, mode)):
                    t0 = time.perf_counter()
                    model = fit(d.x[train], d.y[train], k)
                    fit_s += time.perf_counter() - t0
                    fit_rows += int(train.sum())
                    oa.setdefault(d.name, []).append(float(np.mean(predict(model, d.x[test]) == d.y[test])))
            model = fit(data[0].x, data[0].y, 0)
            t0 = time.perf_counter()
            model.predict_proba(big[:20_000])
            n_rows = PREDICT_ROWS if time.perf_counter() - t0 < 0.2 else 200_000  # slow models: fewer
            t0 = time.perf_counter()
            model.predict_proba(big[:n_rows])
            predict_s = time.perf_counter() - t0
            per_file = {k: float(np.mean(v)) * 100 for k, v in oa.items()}
            out["candidates"][name] = {
                "oa_per_file": {k: round(v, 2) for k, v in per_file.items()},
                "oa_mean": round(float(np.mean(list(per_file.values()))), 2),
                "fit_s_per_m_rows": round(fit_s / fit_rows * 1e6, 1),
                "predict_m_rows_per_s": round(n_rows / predict_s / 1e6, 3),
                "predict_rows": n_rows,
            }
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m ml.eval.classifiers", description=__doc__)
    p.add_argument("mode", choices=["dev", "protocol"])
    p.add_argument("--only", nargs="*", default=None, help="candidate names (default: all)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    a = p.parse_args(argv)
    result = compare(a.mode, [encode_file(f) for f in FILES], a.only)
    text = json.dumps(result, indent=1)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
