"""Fitted models as flat dicts of plain arrays (an ``.npz`` read with ``allow_pickle=False``), and back.

A model cache stored with ``pickle`` breaks when a class is renamed or moved and runs whatever code
the file names when it is read. Models here export their state instead: numbers and strings only, in
arrays under dotted keys (``vae.state.fuse.0.weight``, ``relabeler.model.step1.attr.coef_``).
:func:`nest` / :func:`part` prefix and select a component's keys, :func:`json_array` /
:func:`json_value` carry small settings dicts, and :func:`estimator_arrays` /
:func:`estimator_from_arrays` do the scikit-learn classifiers the project fits (a scaler + logistic
regression pipeline, a random forest): the estimator is rebuilt with its parameters and its fitted
attributes set again, so it predicts exactly what the fitted one did.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree

from ml.errors import ModelError

ESTIMATORS: dict[str, type[Any]] = {
    c.__name__: c
    for c in (Pipeline, StandardScaler, LogisticRegression, RandomForestClassifier, DecisionTreeClassifier)
}  # the estimator types that can be stored (no other class is ever built from a file)


def nest(prefix: str, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` with every key prefixed by ``prefix`` (e.g. ``"vae."``)."""
    return {prefix + k: v for k, v in arrays.items()}


def part(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The entries of ``arrays`` under ``prefix``, with the prefix taken off (inverse of :func:`nest`)."""
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise ModelError(f"cannot store a {type(value).__name__} as JSON")


def json_array(value: object) -> np.ndarray:
    """A JSON-able value (settings dict) as a 0-d str array; numpy scalars become Python numbers."""
    return np.asarray(json.dumps(value, default=_plain, sort_keys=True))


def json_value(array: np.ndarray) -> Any:
    """The value :func:`json_array` stored."""
    return json.loads(str(array[()]))


def str_tuple(array: np.ndarray) -> tuple[str, ...]:
    """A stored (k,) str array as a tuple of str."""
    return tuple(str(s) for s in array)


def estimator_arrays(est: Any) -> dict[str, np.ndarray]:
    """A fitted estimator of :data:`ESTIMATORS` as plain arrays.

    Keys: ``type``, ``params`` (its ``get_params(deep=False)`` as JSON), ``attr.<name>`` (fitted
    public attributes: arrays and numbers), ``est.<name>.`` (a sub-estimator), ``list.<name>`` +
    ``list.<name>.<i>.`` (a list of estimators), ``tree.<name>.`` (a decision tree's node arrays) and,
    for a :class:`~sklearn.pipeline.Pipeline`, ``steps`` + ``step<i>.``. Raises :class:`ModelError`
    for another type or an attribute that is neither.
    """
    name = type(est).__name__
    if ESTIMATORS.get(name) is not type(est):
        raise ModelError(f"cannot store a {type(est).__qualname__} as arrays")
    out: dict[str, np.ndarray] = {"type": np.asarray(name)}
    if isinstance(est, Pipeline):
        out["steps"] = np.asarray([n for n, _ in est.steps], dtype=str)
        for i, (_, step) in enumerate(est.steps):
            out.update(nest(f"step{i}.", estimator_arrays(step)))
        return out
    out["params"] = json_array(est.get_params(deep=False))
    for key, value in vars(est).items():
        if not key.endswith("_") or key.startswith("_"):
            continue  # parameters are in ``params``; private attributes are not used to predict
        if isinstance(value, Tree):
            out.update(nest(f"tree.{key}.", _tree_arrays(value)))
        elif isinstance(value, list):
            out[f"list.{key}"] = np.asarray(len(value))
            for i, item in enumerate(value):
                out.update(nest(f"list.{key}.{i}.", estimator_arrays(item)))
        elif type(value).__name__ in ESTIMATORS:
            out.update(nest(f"est.{key}.", estimator_arrays(value)))
        else:
            arr = np.asarray(value)
            if arr.dtype.hasobject:
                raise ModelError(f"{name}.{key}: cannot store a {type(value).__name__} as an array")
            out[f"attr.{key}"] = arr
    return out


def estimator_from_arrays(arrays: Mapping[str, np.ndarray]) -> Any:
    """The estimator :func:`estimator_arrays` stored; :class:`ModelError` when the arrays do not hold one."""
    try:
        name = str(arrays["type"][()])
        cls = ESTIMATORS.get(name)
        if cls is None:
            raise ModelError(f"stored estimator type {name!r} is not one of {sorted(ESTIMATORS)}")
        if cls is Pipeline:
            names = str_tuple(arrays["steps"])
            steps = [(n, estimator_from_arrays(part(arrays, f"step{i}."))) for i, n in enumerate(names)]
            return Pipeline(steps)
        est = cls(**json_value(arrays["params"]))
        attrs = {k.split(".")[1] for k in arrays if k.startswith(("attr.", "tree.", "list.", "est."))}
        for key in sorted(attrs):
            if f"attr.{key}" in arrays:
                value = arrays[f"attr.{key}"]
                setattr(est, key, value[()] if value.ndim == 0 else value)
            elif f"list.{key}" in arrays:
                count = int(arrays[f"list.{key}"])
                setattr(
                    est, key, [estimator_from_arrays(part(arrays, f"list.{key}.{i}.")) for i in range(count)]
                )
            elif any(k.startswith(f"tree.{key}.") for k in arrays):
                setattr(est, key, _tree_from_arrays(part(arrays, f"tree.{key}.")))
            else:
                setattr(est, key, estimator_from_arrays(part(arrays, f"est.{key}.")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"stored estimator cannot be rebuilt: {exc}") from exc
    return est


def _tree_arrays(tree: Tree) -> dict[str, np.ndarray]:
    n_features, n_classes, n_outputs = tree.__reduce__()[1]
    state = tree.__getstate__()
    return {
        "n_features": np.asarray(n_features),
        "n_classes": np.asarray(n_classes),
        "n_outputs": np.asarray(n_outputs),
        "max_depth": np.asarray(state["max_depth"]),
        "node_count": np.asarray(state["node_count"]),
        "nodes": state["nodes"],  # structured array of numbers (left/right child, feature, threshold...)
        "values": state["values"],
    }


def _tree_from_arrays(arrays: Mapping[str, np.ndarray]) -> Tree:
    tree = Tree(int(arrays["n_features"]), arrays["n_classes"].astype(np.intp), int(arrays["n_outputs"]))
    tree.__setstate__(
        {
            "max_depth": int(arrays["max_depth"]),
            "node_count": int(arrays["node_count"]),
            "nodes": np.ascontiguousarray(arrays["nodes"]),
            "values": np.ascontiguousarray(arrays["values"]),
        }
    )
    return tree
