"""Land-cover classification from ESD embeddings vs raw monthly reflectance: ``python -m ml.eval.landcover``.

``evaluate`` trains one classifier (random forest or MLP) on the train file and scores the test file,
with either the 72-dim ESD codes of the shipped encoder (``esd``) or the monthly composites the
encoder sees, flattened (``raw``). ``split`` writes the held-out train/test files of one sample file
by a location hash (:func:`ml.samples.location_holdout`), the split the shipped models trained on.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ml.errors import SamplesError
from ml.esd.codec import indices_to_codes
from ml.esd.composite import composite_samples
from ml.samples import SampleSet, load_samples, location_holdout

FEATURES = ("esd", "raw")
CLASSIFIERS = ("rf", "mlp")


@dataclass(frozen=True)
class Features:
    """Per-row feature vectors of a sample set."""

    X: np.ndarray  # (N, F) float32: 72 ESD code values (12 steps x 6) or 12 x B monthly values
    y: np.ndarray  # (N,) str class names
    kind: str  # "esd" or "raw"
    bands: tuple[str, ...]  # reflectance bands the features come from (the encoder's band set)


def sample_features(samples: SampleSet, kind: str, weights: str | Path | None = None) -> Features:
    """``esd``: codes of the shipped encoder for the file's bands; ``raw``: the same monthly composites."""
    from ml.esd.model import encode_series, load_model

    if kind not in FEATURES:
        raise SamplesError(f"features must be one of {FEATURES}, got {kind!r}")
    model, meta = load_model(weights if weights is not None else samples.bands)
    bands = tuple(meta["bands"])
    comp = composite_samples(samples, bands)
    lo, hi = meta["clip"]
    monthly = np.clip(comp.values, lo, hi)
    if kind == "raw":
        X = monthly.reshape(len(monthly), -1)
    else:
        X = indices_to_codes(encode_series(model, monthly, comp.valid)).reshape(len(monthly), -1)
    return Features(X.astype(np.float32), samples.label.astype(str), kind, bands)


def few_shot(y: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """Row indices with at most ``shots`` rows per class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    pick = [rng.permutation(np.nonzero(y == c)[0])[:shots] for c in np.unique(y)]
    return np.sort(np.concatenate(pick))


def make_classifier(name: str, seed: int) -> Any:
    """A fresh sklearn classifier: ``rf`` (500 trees) or ``mlp`` (standardized inputs, 2 x 128 units)."""
    if name == "rf":
        return RandomForestClassifier(n_estimators=500, n_jobs=1, random_state=seed)
    if name == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(128, 128), max_iter=600, early_stopping=False, random_state=seed
            ),
        )
    raise SamplesError(f"classifier must be one of {CLASSIFIERS}, got {name!r}")


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """OA, Cohen's kappa, per-class F1 and the confusion matrix (rows = reference, cols = predicted)."""
    f1 = f1_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    return {
        "oa": float(np.mean(y_true == y_pred)),
        "kappa": float(cohen_kappa_score(y_true, y_pred, labels=classes)),
        "f1": {c: float(v) for c, v in zip(classes, f1, strict=True)},
        "classes": classes,
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }


def evaluate(
    train: SampleSet,
    test: SampleSet,
    features: str,
    classifier: str = "rf",
    shots: int | None = None,
    seed: int = 0,
    weights: str | Path | None = None,
) -> dict[str, Any]:
    """Train ``classifier`` on ``train``'s features (``shots`` per class if given), score ``test``."""
    ftr = sample_features(train, features, weights)
    fte = sample_features(test, features, weights)
    idx = few_shot(ftr.y, shots, seed) if shots else np.arange(len(ftr.y))
    clf = make_classifier(classifier, seed)
    clf.fit(ftr.X[idx], ftr.y[idx])
    pred = clf.predict(fte.X)
    classes = sorted(set(ftr.y[idx]) | set(fte.y))
    return {
        "features": features,
        "classifier": classifier,
        "shots": shots,
        "bands": list(ftr.bands),
        "n_features": int(ftr.X.shape[1]),
        "n_train": len(idx),
        "n_test": len(fte.y),
        **classification_report(fte.y, pred, classes),
    }


def split_file(path: str | Path, test_fraction: float, seed: int, out_dir: str | Path) -> dict[str, Any]:
    """Write ``<stem>_train.npz`` and ``<stem>_test.npz`` (same arrays) split by location hash."""
    src = Path(path)
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    if "lon" not in arrays or "lat" not in arrays:
        raise SamplesError(f"{src}: no lon/lat arrays to split by location")
    is_test = location_holdout(arrays["lon"], arrays["lat"], test_fraction, seed)
    n = len(is_test)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for part, mask in (("train", ~is_test), ("test", is_test)):
        p = out / f"{src.stem}_{part}.npz"
        np.savez_compressed(
            p,
            **{k: (v[mask] if v.ndim and v.shape[0] == n and k != "bands" else v) for k, v in arrays.items()},
        )
        written[part] = {"path": str(p), "rows": int(mask.sum())}
    return written


def main(argv: list[str] | None = None) -> None:
    """CLI: ``evaluate`` (prints JSON metrics) and ``split`` (writes held-out train/test files)."""
    p = argparse.ArgumentParser(prog="python -m ml.eval.landcover", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("evaluate", help="classify test samples from ESD or raw features")
    e.add_argument("--train", required=True, help="training sample .npz")
    e.add_argument("--test", help="test sample .npz (default: held-out locations of --train)")
    e.add_argument("--features", choices=FEATURES, required=True)
    e.add_argument("--classifier", choices=CLASSIFIERS, default="rf")
    e.add_argument("--shots", type=int, default=None, help="train on K samples per class")
    e.add_argument(
        "--weights", default=None, help="ESDNet checkpoint (default: shipped for the file's bands)"
    )
    e.add_argument("--test-fraction", type=float, default=0.3, help="hold-out share when --test is omitted")
    e.add_argument("--seed", type=int, default=0, help="seed of the classifier and the few-shot draw")
    e.add_argument("--split-seed", type=int, default=0, help="seed of the hold-out when --test is omitted")
    s = sub.add_parser("split", help="write <stem>_train.npz / <stem>_test.npz split by location")
    s.add_argument("file")
    s.add_argument("--test-fraction", type=float, default=0.3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out-dir", required=True)
    a = p.parse_args(argv)
    if a.command == "split":
        print(json.dumps(split_file(a.file, a.test_fraction, a.seed, a.out_dir), indent=2))
        return
    train = load_samples(a.train)
    if a.test:
        test = load_samples(a.test)
    else:
        held = location_holdout(train.lon, train.lat, a.test_fraction, a.split_seed)
        train, test = train.subset(~held), train.subset(held)
    print(json.dumps(evaluate(train, test, a.features, a.classifier, a.shots, a.seed, a.weights), indent=2))


if __name__ == "__main__":
    main()
