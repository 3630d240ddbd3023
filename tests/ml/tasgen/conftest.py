"""Shared fixtures of the TasGen tests: real sample files and one small fitted model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ml.samples import SampleSet, load_samples
from ml.tasgen.pipeline import TasGenConfig, TasGenModel, fit_tasgen
from ml.tasgen.series import SampleSeries, monthly_means

DATA = Path(os.environ.get("ESD_SHARED_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))
SAMPLES = DATA / "samples"
MT9 = SAMPLES / "matogrosso_modis_9classes.npz"
PRODES = SAMPLES / "prodes_226_064_deforestation.npz"
CERRADO_MY = SAMPLES / "cerrado_modis_2classes_multiyear.npz"

SMALL = TasGenConfig(
    torch_threads=1, epochs=60, rounds=2, rf_trees=50, gibbs_max=20, gibbs_sweeps=6, gibbs_burn_in=2
)


def one_year_series(samples: SampleSet, classes: tuple[str, ...], per_class: int, seed: int) -> SampleSeries:
    """Y = 1 series (nominal year 2015) of up to ``per_class`` rows of each class, monthly means."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.permutation(np.flatnonzero(samples.label == c))[:per_class] for c in classes])
    m = monthly_means(samples.X[idx], samples.dates[idx], samples.start_date[idx])
    return SampleSeries(
        values=m[:, None],
        valid=np.ones((len(idx), 1), dtype=bool),
        years=(2015,),
        static_class=samples.label[idx].astype(str),
        reference_year=np.full(len(idx), 2015, dtype=np.int64),
        dim_names=samples.bands,
    )


@pytest.fixture(scope="session")
def mt9() -> SampleSet:
    return load_samples(MT9)


@pytest.fixture(scope="session")
def mt_series(mt9: SampleSet) -> SampleSeries:
    """Forest, Pasture and Soy_Corn rows of Mato Grosso (6 MODIS bands), 80 of each."""
    return one_year_series(mt9, ("Forest", "Pasture", "Soy_Corn"), 80, seed=0)


@pytest.fixture(scope="session")
def mt_model(mt_series: SampleSeries) -> TasGenModel:
    return fit_tasgen(mt_series, SMALL, seed=0)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    """Tiny nets train fastest on one thread on the shared 2-core machine."""
    import torch

    torch.set_num_threads(1)
