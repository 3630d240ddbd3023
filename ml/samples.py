"""Labelled pixel time series (the ``.npz`` sample format of ``../shared/data/samples``).

One row is one pixel over one year: ``X (N, T, B)`` values (reflectance 0-1 or an index),
``bands (B,)`` names, ``label (N,)`` class names, ``lon``/``lat (N,)`` WGS84, ``start_date``,
``end_date (N,)`` and ``dates (N, T)`` as ``datetime64[D]``. The same location appears again in other
years as other rows, so any train/validation split must group rows by location, never split rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ml.errors import SamplesError

REQUIRED_ARRAYS: tuple[str, ...] = ("X", "bands", "label", "lon", "lat", "start_date", "end_date", "dates")


@dataclass(frozen=True)
class SampleSet:
    """A labelled sample set; all arrays share the first axis ``N`` (one row per pixel-year)."""

    X: np.ndarray  # (N, T, B) float32 values; NaN where missing
    bands: tuple[str, ...]  # (B,) band names, lower case ("blue", "red", "nir", "mir", "ndvi", ...)
    label: np.ndarray  # (N,) str class names
    lon: np.ndarray  # (N,) float64 degrees WGS84
    lat: np.ndarray  # (N,) float64 degrees WGS84
    start_date: np.ndarray  # (N,) datetime64[D] first day of the row's year window
    end_date: np.ndarray  # (N,) datetime64[D] last day of the row's year window
    dates: np.ndarray  # (N, T) datetime64[D] date of each step

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def classes(self) -> tuple[str, ...]:
        """Sorted distinct class names."""
        return tuple(str(c) for c in np.unique(self.label))

    @property
    def year(self) -> np.ndarray:
        """(N,) int: the calendar year in which each row's window ends (crop year Sep->Aug ends in Aug)."""
        return self.end_date.astype("datetime64[Y]").astype(int) + 1970

    def location_ids(self, decimals: int = 5) -> np.ndarray:
        """(N,) int: one id per distinct (lon, lat) rounded to ``decimals``; rows of one pixel share it."""
        key = np.round(self.lon, decimals) * 1e3 + np.round(self.lat, decimals)
        _, ids = np.unique(key, return_inverse=True)
        return ids.astype(np.int64)

    def subset(self, index: np.ndarray) -> SampleSet:
        """Rows selected by a boolean mask or integer index."""
        return replace(
            self,
            X=self.X[index],
            label=self.label[index],
            lon=self.lon[index],
            lat=self.lat[index],
            start_date=self.start_date[index],
            end_date=self.end_date[index],
            dates=self.dates[index],
        )

    def select_bands(self, names: tuple[str, ...] | list[str]) -> SampleSet:
        """The same rows with only ``names`` (case-insensitive), in that order."""
        lookup = {b.lower(): i for i, b in enumerate(self.bands)}
        missing = [n for n in names if n.lower() not in lookup]
        if missing:
            raise SamplesError(f"bands {missing} not in sample set bands {list(self.bands)}")
        idx = [lookup[n.lower()] for n in names]
        return replace(self, X=self.X[:, :, idx], bands=tuple(n.lower() for n in names))

    def split_by_location(self, test_fraction: float, seed: int) -> tuple[SampleSet, SampleSet]:
        """(train, test): a seeded split of whole locations, so no pixel is in both parts."""
        if not 0.0 < test_fraction < 1.0:
            raise SamplesError(f"test_fraction must be in (0, 1), got {test_fraction}")
        ids = self.location_ids()
        unique = np.unique(ids)
        rng = np.random.default_rng(seed)
        n_test = max(1, int(round(len(unique) * test_fraction)))
        test_ids = rng.choice(unique, size=n_test, replace=False)
        is_test = np.isin(ids, test_ids)
        return self.subset(~is_test), self.subset(is_test)


def load_samples(path: str | Path) -> SampleSet:
    """Read a sample ``.npz``; band names are lower-cased, values kept as stored (clip where needed).

    Raises :class:`SamplesError` naming the file when it cannot be read or lacks an array.
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            missing = [k for k in REQUIRED_ARRAYS if k not in data.files]
            if missing:
                raise SamplesError(f"{p}: missing arrays {missing} (need {list(REQUIRED_ARRAYS)})")
            arrays = {k: data[k] for k in REQUIRED_ARRAYS}
    except SamplesError:
        raise
    except (OSError, ValueError) as exc:
        raise SamplesError(f"{p}: not a readable sample .npz ({exc})") from exc
    X = np.asarray(arrays["X"], dtype=np.float32)
    if X.ndim != 3:
        raise SamplesError(f"{p}: X must be (N, T, B), got shape {X.shape}")
    n = X.shape[0]
    for k in ("label", "lon", "lat", "start_date", "end_date"):
        if arrays[k].shape[0] != n:
            raise SamplesError(f"{p}: {k} has {arrays[k].shape[0]} rows, X has {n}")
    if arrays["bands"].shape[0] != X.shape[2]:
        raise SamplesError(f"{p}: {arrays['bands'].shape[0]} band names for {X.shape[2]} bands")
    return SampleSet(
        X=X,
        bands=tuple(str(b).lower() for b in arrays["bands"]),
        label=arrays["label"].astype(str),
        lon=arrays["lon"].astype(np.float64),
        lat=arrays["lat"].astype(np.float64),
        start_date=arrays["start_date"].astype("datetime64[D]"),
        end_date=arrays["end_date"].astype("datetime64[D]"),
        dates=arrays["dates"].astype("datetime64[D]"),
    )


def location_holdout(lon: np.ndarray, lat: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """(N,) bool, True for held-out rows: a hash of each location (lon, lat at 1e-4 deg) and ``seed``.

    Unlike :meth:`SampleSet.split_by_location` the choice depends only on the location itself, so a
    location is held out in every file that contains it (the Mato Grosso and Cerrado sets share
    locations) and training on one file never sees the other file's test pixels.
    """
    if not 0.0 < test_fraction < 1.0:
        raise SamplesError(f"test_fraction must be in (0, 1), got {test_fraction}")
    qx = np.round(np.asarray(lon, dtype=np.float64) * 1e4).astype(np.int64).astype(np.uint64)
    qy = np.round(np.asarray(lat, dtype=np.float64) * 1e4).astype(np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = qx * np.uint64(0x9E3779B97F4A7C15) ^ qy * np.uint64(0xC2B2AE3D27D4EB4F) ^ np.uint64(seed)
        for mult in (0xBF58476D1CE4E5B9, 0x94D049BB133111EB):  # splitmix64 finaliser
            h = (h ^ (h >> np.uint64(30))) * np.uint64(mult)
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53) < test_fraction


def split_by_location_hash(
    samples: SampleSet, test_fraction: float, seed: int
) -> tuple[SampleSet, SampleSet]:
    """(train, test) by :func:`location_holdout`: the same location falls on the same side in every file."""
    is_test = location_holdout(samples.lon, samples.lat, test_fraction, seed)
    return samples.subset(~is_test), samples.subset(is_test)
