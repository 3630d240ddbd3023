"""Per-pixel-year land-cover mapping from ESD embeddings: fit on samples, predict windows, score.

Features are the 72 values (12 months x 6 code dims) of one pixel-year. Two classifiers:

- ``forest`` (default): a random forest (scikit-learn's fit; robust on small label sets).
- ``mlp``: one hidden ReLU layer (``hidden`` units) trained with AdamW on minibatches and predicted
  in numpy: a 72 x 32 matrix product per pixel-year, about 20x the forest's predict throughput on
  one core. Better than the forest on the development splits but 2.5 points worse on the protocol
  split of held-out locations (``python -m bench.bench_classifiers``, docs/benchmarks/classifiers.md),
  so not the default (issue 18's rule: within 0.5 points).

A fitted :class:`Mapper` is stored as plain arrays (:func:`save_mapper` / :func:`load_mapper`, an
``.npz`` read with ``allow_pickle=False``): no pickle. How far its maps agree with the user's labels
is measured in :mod:`ml.accuracy` (spatially grouped cross-validation, area-adjusted validation).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree._tree import Tree

from ml.atomic import save_npz_atomic
from ml.errors import SamplesError

NODATA_CLASS = 255  # class value of pixels without data (uint8 maps)
MAPPER_MODELS = ("mlp", "forest")
MLP_BATCH = 512  # minibatch rows per AdamW step
MLP_WEIGHT_DECAY = 1e-4  # AdamW weight decay
PREDICT_CHUNK = 65_536  # rows per matrix product (bounds the hidden activations' memory)


@dataclass(frozen=True)
class MapperConfig:
    """Settings of the pixel classifier (``model`` picks which; the others apply to that one only)."""

    model: str = "forest"  # "forest" or "mlp"
    hidden: int = 32  # mlp: hidden units
    steps: int = 400  # mlp: AdamW steps (one-cycle learning rate)
    lr: float = 0.01  # mlp: peak learning rate
    trees: int = 100  # forest: number of trees
    max_depth: int | None = 24  # forest: depth cap keeps prediction fast on large windows
    min_samples_leaf: int = 1  # forest: leaf size
    n_jobs: int = 2  # forest: threads for fit/predict (the workers have 2 cores)
    seed: int = 0  # random seed of either


class Mapper(Protocol):
    """A fitted pixel classifier; ``classes_`` are the (sorted) class indices it saw."""

    classes_: np.ndarray

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``(n, 72)`` -> ``(n, len(classes_))`` float32 probabilities."""
        ...

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n, 72)`` -> ``(n,)`` int64 class indices (the most probable)."""
        ...

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild the mapper, as plain numeric arrays."""
        ...


@dataclass
class MlpMapper:
    """One hidden ReLU layer and a softmax, evaluated in numpy."""

    classes_: np.ndarray  # (C,) int64
    w1: np.ndarray  # (F, H) float32
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H, C)
    b2: np.ndarray  # (C,)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], self.w2.shape[1]), dtype=np.float32)
        for s in range(0, x.shape[0], PREDICT_CHUNK):
            h = np.asarray(x[s : s + PREDICT_CHUNK], dtype=np.float32) @ self.w1
            h += self.b1
            np.maximum(h, 0.0, out=h)
            z = h @ self.w2
            z += self.b2
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            out[s : s + PREDICT_CHUNK] = z
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_[self.predict_proba(x).argmax(axis=1)], dtype=np.int64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"model": np.array("mlp"), "classes": self.classes_, **_mlp_arrays(self)}


def _mlp_arrays(m: MlpMapper) -> dict[str, np.ndarray]:
    return {"w1": m.w1, "b1": m.b1, "w2": m.w2, "b2": m.b2}


@dataclass
class ForestMapper:
    """A random forest kept as its trees' arrays: the mean of the trees' class shares, as scikit-learn."""

    classes_: np.ndarray  # (C,) int64
    n_features: int
    trees: list[Tree]
    n_jobs: int = 1  # threads for predict (trees release the GIL)

    def _share(self, trees: list[Tree], x32: np.ndarray) -> np.ndarray:
        total = np.zeros((x32.shape[0], self.classes_.size), dtype=np.float64)
        for tree in trees:
            v = tree.predict(x32).reshape(x32.shape[0], -1)[:, : self.classes_.size]
            total += v / np.maximum(v.sum(axis=1, keepdims=True), 1e-300)
        return total

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        jobs = max(1, min(self.n_jobs, len(self.trees)))
        if jobs == 1:
            total = self._share(self.trees, x32)
        else:
            with ThreadPoolExecutor(jobs) as pool:
                parts = pool.map(lambda k: self._share(self.trees[k::jobs], x32), range(jobs))
                total = np.sum(list(parts), axis=0)
        return (total / len(self.trees)).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_[self.predict_proba(x).argmax(axis=1)], dtype=np.int64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {
            "model": np.array("forest"),
            "classes": self.classes_,
            "n_features": np.array(self.n_features),
            "n_jobs": np.array(self.n_jobs),
        }
        for i, tree in enumerate(self.trees):
            state = tree.__getstate__()
            arrays[f"t{i}_nodes"] = state["nodes"]
            arrays[f"t{i}_values"] = state["values"]
            arrays[f"t{i}_depth"] = np.array(state["max_depth"])
        return arrays


def features(codes: np.ndarray) -> np.ndarray:
    """(..., 12, 6) codes -> (..., 72) float32 feature vectors."""
    return codes.reshape(*codes.shape[:-2], -1).astype(np.float32, copy=False)


def fit_mapper(x: np.ndarray, y: np.ndarray, config: MapperConfig | None = None) -> Mapper:
    """Fit on ``x (n, 72)`` and integer classes ``y (n,)``; raises when fewer than 2 classes are present."""
    config = config or MapperConfig()
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise SamplesError(f"features {x.shape} and classes {y.shape} do not match")
    if np.unique(y).size < 2:
        raise SamplesError("need samples of at least 2 classes to train the map classifier")
    if config.model == "mlp":
        return _fit_mlp(x, y, config)
    if config.model == "forest":
        return _fit_forest(x, y, config)
    raise SamplesError(f"map classifier must be one of {MAPPER_MODELS}, got {config.model!r}")


def _fit_forest(x: np.ndarray, y: np.ndarray, config: MapperConfig) -> ForestMapper:
    model = RandomForestClassifier(
        n_estimators=config.trees,
        max_depth=config.max_depth,
        min_samples_leaf=config.min_samples_leaf,
        n_jobs=config.n_jobs,
        random_state=config.seed,
    )
    model.fit(x, y)
    return ForestMapper(
        classes_=np.asarray(model.classes_, dtype=np.int64),
        n_features=int(x.shape[1]),
        trees=[est.tree_ for est in model.estimators_],
        n_jobs=config.n_jobs,
    )


def _one_cycle(steps: int, peak: float) -> np.ndarray:
    """Learning rate of each step: linear warm-up over 30% from ``peak / 25``, then cosine to ~0."""
    warm = max(1, int(0.3 * steps))
    up = np.linspace(peak / 25.0, peak, warm, endpoint=False)
    t = np.linspace(0.0, 1.0, steps - warm)
    down = peak / 1e4 + (peak - peak / 1e4) * 0.5 * (1.0 + np.cos(np.pi * t))
    return np.concatenate([up, down])


def _fit_mlp(x: np.ndarray, y: np.ndarray, config: MapperConfig) -> MlpMapper:
    """Minibatch AdamW on the softmax cross-entropy, hand-written in numpy (no autograd overhead)."""
    classes, target = np.unique(y, return_inverse=True)
    rng = np.random.default_rng(config.seed)
    xs = np.ascontiguousarray(x, dtype=np.float32)
    n, f = xs.shape
    k, hid = classes.size, config.hidden
    b_in, b_hid = 1.0 / np.sqrt(f), 1.0 / np.sqrt(hid)  # torch.nn.Linear's default init bounds
    params = [
        rng.uniform(-b_in, b_in, (f, hid)).astype(np.float32),
        rng.uniform(-b_in, b_in, hid).astype(np.float32),
        rng.uniform(-b_hid, b_hid, (hid, k)).astype(np.float32),
        rng.uniform(-b_hid, b_hid, k).astype(np.float32),
    ]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    batch = min(MLP_BATCH, n)
    rows = np.arange(batch)
    for step, lr in enumerate(_one_cycle(config.steps, config.lr), start=1):
        idx = rng.integers(0, n, batch)
        xb = xs[idx]
        z1 = xb @ params[0] + params[1]
        h = np.maximum(z1, 0.0)
        z2 = h @ params[2] + params[3]
        z2 -= z2.max(axis=1, keepdims=True)
        prob = np.exp(z2)
        prob /= prob.sum(axis=1, keepdims=True)
        prob[rows, target[idx]] -= 1.0
        dz2 = prob / batch
        dz1 = (dz2 @ params[2].T) * (z1 > 0)
        grads = [xb.T @ dz1, dz1.sum(axis=0), h.T @ dz2, dz2.sum(axis=0)]
        c1, c2 = 1.0 - beta1**step, 1.0 - beta2**step
        for p, g, a, b in zip(params, grads, m1, m2, strict=True):
            p *= np.float32(1.0 - lr * MLP_WEIGHT_DECAY)
            a *= beta1
            a += (1.0 - beta1) * g
            b *= beta2
            b += (1.0 - beta2) * g * g
            p -= (lr / c1) * a / (np.sqrt(b / c2) + eps)
    return MlpMapper(np.asarray(classes, dtype=np.int64), *params)


def mapper_from_arrays(arrays: dict[str, np.ndarray]) -> Mapper:
    """The mapper :meth:`Mapper.to_arrays` described."""
    kind = str(arrays["model"])
    classes = np.asarray(arrays["classes"], dtype=np.int64)
    if kind == "mlp":
        return MlpMapper(
            classes, *(np.asarray(arrays[k], dtype=np.float32) for k in ("w1", "b1", "w2", "b2"))
        )
    if kind == "forest":
        n_features = int(arrays["n_features"])
        trees = []
        for i in range(sum(1 for k in arrays if k.endswith("_nodes"))):
            tree = Tree(n_features, np.array([classes.size], dtype=np.intp), 1)
            nodes, values = arrays[f"t{i}_nodes"], arrays[f"t{i}_values"]
            tree.__setstate__(
                {
                    "max_depth": int(arrays[f"t{i}_depth"]),
                    "node_count": int(nodes.shape[0]),
                    "nodes": nodes,
                    "values": values,
                }
            )
            trees.append(tree)
        return ForestMapper(classes, n_features, trees, int(arrays.get("n_jobs", 1)))
    raise SamplesError(f"stored map classifier of unknown kind {kind!r}")


def save_mapper(path: str | Path, mapper: Mapper) -> Path:
    """Write ``mapper`` as an ``.npz`` of plain arrays (atomically)."""
    return save_npz_atomic(path, **mapper.to_arrays())


def load_mapper(path: str | Path) -> Mapper:
    """Read a mapper :func:`save_mapper` wrote (no pickle)."""
    with np.load(path, allow_pickle=False) as data:
        return mapper_from_arrays({k: data[k] for k in data.files})


def predict_window(model: Mapper, codes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Class map of a window: ``codes (Y, 12, 6, H, W)``, ``valid (Y, H, W)`` -> ``(Y, H, W)`` uint8.

    Pixels without data get :data:`NODATA_CLASS`; values are indices into the classes ``model`` saw:
    the most probable class of :func:`predict_proba_window` (the first one on a tie).
    """
    n_classes = int(np.max(model.classes_)) + 1
    probs = predict_proba_window(model, codes, valid, n_classes)
    top = np.nan_to_num(probs, nan=-1.0).argmax(axis=1)
    return np.where(valid, top, NODATA_CLASS).astype(np.uint8)


def predict_proba_window(model: Mapper, codes: np.ndarray, valid: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities of a window: ``codes (Y, 12, 6, H, W)``, ``valid (Y, H, W)`` -> ``(Y, C, H, W)``.

    float16 probabilities of all ``n_classes`` classes of the label set, in class-index order: a class
    the model never saw gets 0. Pixels without data are NaN. The most probable class is what
    :func:`predict_window` returns.
    """
    n_years, _, _, h, w = codes.shape
    out = np.full((n_years, n_classes, h, w), np.nan, dtype=np.float16)
    x = np.moveaxis(codes, (3, 4), (1, 2)).reshape(n_years, h, w, -1)  # (Y, H, W, 72)
    if valid.any():
        seen = np.asarray(model.classes_, dtype=np.int64)  # class index of each predict_proba column
        proba = np.zeros((int(valid.sum()), n_classes), dtype=np.float32)
        proba[:, seen] = model.predict_proba(x[valid].astype(np.float32))
        out_v = np.moveaxis(out, 1, -1)  # (Y, H, W, C) view
        out_v[valid] = proba.astype(np.float16)
    return out
