"""Anomaly detection of TasGen stage 1: per-class thresholds on HTS-VAE scores, flags, change years.

Threshold rule (robust to the changed samples hidden in a static label set):
``threshold_c = median_c + k * 1.4826 * MAD_c`` of the anomaly scores (negative ELBO, nats) of the
reference-year sample-years of class ``c`` used for calibration. ``1.4826 * MAD`` estimates the
standard deviation of the normal scores even when a minority (< 50 %) of them are changed samples,
which a plain high quantile would absorb.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ml.array_state import str_tuple
from ml.errors import TasGenError

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class ClassThresholds:
    """Per-class anomaly thresholds (index ``c`` follows ``classes``)."""

    classes: tuple[str, ...]  # (C,) class names
    median: np.ndarray  # (C,) median calibration score (nats)
    sigma: np.ndarray  # (C,) 1.4826 * MAD of the calibration scores (nats), floored at ``min_sigma``
    k: float  # number of robust sigmas above the median
    threshold: np.ndarray  # (C,) median + k * sigma (nats)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (``classes`` as str, ``k`` 0-d)."""
        return {
            "classes": np.asarray(self.classes, dtype=str),
            "median": self.median,
            "sigma": self.sigma,
            "k": np.asarray(self.k),
            "threshold": self.threshold,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ClassThresholds:
        return cls(
            classes=str_tuple(arrays["classes"]),
            median=arrays["median"],
            sigma=arrays["sigma"],
            k=float(arrays["k"]),
            threshold=arrays["threshold"],
        )


def calibrate_thresholds(
    scores: np.ndarray, class_index: np.ndarray, classes: tuple[str, ...], k: float, min_sigma: float = 1e-3
) -> ClassThresholds:
    """Thresholds from calibration ``scores (M,)`` of sample-years of class ``class_index (M,)``.

    Raises :class:`TasGenError` when a class has fewer than 3 calibration scores.
    """
    if scores.shape != class_index.shape:
        raise TasGenError(f"scores {scores.shape} and class_index {class_index.shape} differ in shape")
    med = np.zeros(len(classes))
    sig = np.zeros(len(classes))
    for ci, name in enumerate(classes):
        s = scores[class_index == ci]
        if len(s) < 3:
            raise TasGenError(f"class {name!r}: {len(s)} calibration scores, need at least 3")
        med[ci] = np.median(s)
        sig[ci] = max(MAD_TO_SIGMA * np.median(np.abs(s - med[ci])), min_sigma)
    return ClassThresholds(classes=classes, median=med, sigma=sig, k=k, threshold=med + k * sig)


def flag_anomalies(scores: np.ndarray, class_index: np.ndarray, thresholds: ClassThresholds) -> np.ndarray:
    """Bool mask, same shape as ``scores``: score above the threshold of the sample's class (NaN: False)."""
    thr = thresholds.threshold[class_index]
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(scores, nan=-np.inf) > thr


def change_years(klass: np.ndarray, years: tuple[int, ...]) -> list[list[int]]:
    """Per sample, the years whose class differs from the sample's previous year with data.

    ``klass (N, Y)`` str with ``""`` for years without data; the first year with data is never a
    change year (there is nothing before it to compare with).
    """
    out: list[list[int]] = []
    for row in klass:
        prev = ""
        found: list[int] = []
        for j, k in enumerate(row):
            if k == "":
                continue
            if prev and k != prev:
                found.append(int(years[j]))
            prev = k
        out.append(found)
    return out
