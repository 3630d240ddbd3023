"""Gibbs attribution: reproducible with a seed, and it points at the months and bands that differ."""

from __future__ import annotations

import numpy as np
import pytest

from ml.errors import TasGenError
from ml.samples import SampleSet
from ml.tasgen.interpret import gibbs_attribution
from ml.tasgen.pipeline import TasGenModel
from ml.tasgen.series import SampleSeries, monthly_means

SPLICED_MONTHS = (9, 10, 11)  # Jun, Jul, Aug of the Sep->Aug window: bare soil after the soy-corn harvest
SPLICED_BANDS = ("mir", "ndvi")


def _spliced(mt9: SampleSet, model: TasGenModel, series: SampleSeries) -> tuple[np.ndarray, np.ndarray, int]:
    """Held-out real Forest years (standardized) and copies whose spliced cells come from Soy_Corn rows."""
    used = {tuple(v.ravel()[:6]) for v in series.values[:, 0]}
    m = monthly_means(mt9.X, mt9.dates, mt9.start_date)
    forest = [i for i in np.flatnonzero(mt9.label == "Forest") if tuple(m[i].ravel()[:6]) not in used]
    soy = np.flatnonzero(mt9.label == "Soy_Corn")[: len(forest)]
    normal = model.standardize(m[forest])
    spliced = normal.copy()
    bands = [mt9.bands.index(b) for b in SPLICED_BANDS]
    donor = model.standardize(m[soy])
    for mo in SPLICED_MONTHS:
        spliced[:, mo, bands] = donor[:, mo, bands]
    return normal, spliced, model.classes.index("Forest")


def _attribute(model: TasGenModel, normal: np.ndarray, spliced: np.ndarray, c: int, seed: int):
    cls = np.full(len(spliced), c)
    return gibbs_attribution(
        lambda xs: model.vae.score(xs, np.tile(cls, len(xs) // len(cls))),
        spliced,
        normal,
        np.full(len(spliced), model.scale.elbo_median[c]),
        sweeps=8,
        temperature=1.0,
        cost=1.0,
        burn_in=2,
        seed=seed,
    )


def test_gibbs_is_reproducible_with_a_seed(
    mt9: SampleSet, mt_model: TasGenModel, mt_series: SampleSeries
) -> None:
    normal, spliced, c = _spliced(mt9, mt_model, mt_series)
    a = _attribute(mt_model, normal[:5], spliced[:5], c, seed=3)
    b = _attribute(mt_model, normal[:5], spliced[:5], c, seed=3)
    assert np.array_equal(a.cell_effect, b.cell_effect)
    assert np.array_equal(a.cell_probability, b.cell_probability)
    assert a.month.shape == (5, 12) and a.dim.shape == (5, 6)
    assert np.allclose(a.month.sum(1), 1.0) and np.allclose(a.dim.sum(1), 1.0)


def test_attribution_of_spliced_change_points_at_spliced_months_and_bands(
    mt9: SampleSet, mt_model: TasGenModel, mt_series: SampleSeries
) -> None:
    normal, spliced, c = _spliced(mt9, mt_model, mt_series)
    scores = mt_model.vae.score(spliced, np.full(len(spliced), c))  # nats; Y = 1, so no drift term
    z = (scores - mt_model.scale.elbo_median[c]) / mt_model.scale.elbo_sigma[c]
    anomalous = z > mt_model.thresholds.threshold[c]
    assert anomalous.sum() >= 10, "the splice should make most held-out Forest years anomalous"
    att = _attribute(mt_model, normal[anomalous], spliced[anomalous], c, seed=0)
    months_mass = att.month[:, list(SPLICED_MONTHS)].sum(1)
    bands_mass = att.dim[:, [mt9.bands.index(b) for b in SPLICED_BANDS]].sum(1)
    # 3 of 12 months and 2 of 6 bands would get 0.25 and 0.33 by chance
    assert np.median(months_mass) > 0.6
    assert np.median(bands_mass) > 0.6
    # restoring the cells Gibbs selects removes most of the anomaly
    assert np.median(att.residual_score) < np.median(scores[anomalous])


def test_decoded_attribution_names_the_band_the_changed_code_feeds() -> None:
    """A linear 'decoder' that reads code dim 0 into band 2 only: a change in dim 0, months 3-5,
    is told as band 2 in months 3-5."""
    from ml.tasgen.interpret import decoded_attribution

    w = np.zeros((6, 3), dtype=np.float32)
    w[0, 2] = 1.0
    w[1:, 0] = 0.5

    def decode(codes: np.ndarray) -> np.ndarray:
        return codes @ w

    rng = np.random.default_rng(0)
    normal = rng.normal(0, 0.3, (4, 12, 6)).astype(np.float32)
    x = normal.copy()
    x[:, 3:6, 0] += 1.0
    effect = np.zeros_like(x)
    effect[:, 3:6, 0] = 2.0
    got = decoded_attribution(decode, x, normal, effect)
    assert got.cell.shape == (4, 12, 3)
    assert np.allclose(got.cell.sum((1, 2)), 1.0) and np.allclose(got.band.sum(1), 1.0)
    assert np.allclose(got.band[:, 2], 1.0)
    assert np.allclose(got.month[:, 3:6].sum(1), 1.0)
    with pytest.raises(TasGenError, match="must all be"):
        decoded_attribution(decode, x, normal[:2], effect)


def test_decoded_attribution_through_the_shipped_modis_decoder() -> None:
    """Real ESDNet decoder (blue, red, nir, mir): codes moved in the wet-season months read as a
    band and month attribution over those bands, concentrated on the moved months."""
    from ml.esd.codec import indices_to_codes
    from ml.esd.model import decode_codes, load_model
    from ml.tasgen.interpret import decoded_attribution

    model, meta = load_model(("blue", "red", "nir", "mir"))
    rng = np.random.default_rng(1)
    normal = indices_to_codes(rng.integers(0, 64000, (3, 12))).astype(np.float32)
    x = normal.copy()
    x[:, 0:3] = -normal[:, 0:3]
    effect = np.zeros_like(x)
    effect[:, 0:3] = 1.0
    got = decoded_attribution(lambda c: decode_codes(model, c), x, normal, effect)
    assert got.band.shape == (3, len(meta["bands"])) and np.allclose(got.band.sum(1), 1.0)
    assert (got.month[:, 0:4].sum(1) > 0.6).all()
