"""The temporal HMM (ml/temporal.py) on tiny synthetic sequences, checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ml.errors import ProductError
from ml.smoothing import SmoothingConfig
from ml.temporal import (
    NODATA_CLASS,
    TemporalConfig,
    changed_by_step,
    class_series,
    entropy,
    estimate_transitions,
    make_consistent,
    make_consistent_grid,
    make_consistent_strips,
    margin,
    posterior,
    temper,
    viterbi,
)


def series_probs(classes: list[int], n_classes: int = 3, sure: float = 0.8) -> np.ndarray:
    """(Y, C, 1) probabilities: ``sure`` on each year's class, the rest spread evenly."""
    p = np.full((len(classes), n_classes, 1), (1.0 - sure) / (n_classes - 1))
    for t, c in enumerate(classes):
        p[t, c, 0] = sure
    return p


STAY_ONLY = estimate_transitions(np.zeros((0, 7), dtype=int), 3, switch_odds=1 / 18, prior_share=0.3)


def test_one_year_blip_is_removed() -> None:
    got = viterbi(series_probs([0, 0, 0, 1, 0, 0, 0]), STAY_ONLY)[:, 0]
    assert got.tolist() == [0] * 7


def test_lasting_change_is_kept_and_dated_to_its_first_year() -> None:
    got = viterbi(series_probs([0, 0, 0, 2, 2, 2, 2]), STAY_ONLY)[:, 0]
    assert got.tolist() == [0, 0, 0, 2, 2, 2, 2]


def test_sequence_allowed_by_the_transitions_is_untouched() -> None:
    """A crop rotation the dynamic samples show (0 <-> 1 every year) survives; a stay prior alone flattens it."""
    rotation = np.array([[0, 1, 0, 1, 0, 1, 0], [1, 0, 1, 0, 1, 0, 1]] * 20)
    a = estimate_transitions(rotation, 3, switch_odds=1 / 18, prior_share=0.3)
    seq = [0, 1, 0, 1, 0, 1, 0]
    assert viterbi(series_probs(seq), a)[:, 0].tolist() == seq
    assert viterbi(series_probs(seq), STAY_ONLY)[:, 0].tolist() != seq


def test_confident_blip_beats_the_prior() -> None:
    """Evidence strong enough outweighs two unlikely transitions: the method does not hide everything."""
    p = series_probs([0, 0, 0, 1, 0, 0, 0], sure=0.8)
    p[3, :, 0] = [0.001, 0.998, 0.001]
    got = viterbi(p, STAY_ONLY, floor=0.001)[:, 0]
    assert got.tolist() == [0, 0, 0, 1, 0, 0, 0]


def brute_force(p: np.ndarray, a: np.ndarray, floor: float) -> tuple[list[int], np.ndarray]:
    """Best path and marginals of one pixel by enumerating every class sequence."""
    n_years, n_classes = p.shape
    e = np.maximum(p, floor)
    best, best_score = None, -np.inf
    marg = np.zeros((n_years, n_classes))
    for seq in itertools.product(range(n_classes), repeat=n_years):
        w = np.prod([e[t, c] for t, c in enumerate(seq)]) / n_classes
        w *= np.prod([a[seq[t - 1], seq[t]] for t in range(1, n_years)])
        if w > best_score:
            best, best_score = list(seq), w
        for t, c in enumerate(seq):
            marg[t, c] += w
    assert best is not None
    return best, marg / marg.sum(axis=1, keepdims=True)


def test_vectorised_viterbi_and_posterior_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    n_years, n_classes, n = 5, 3, 40
    p = rng.dirichlet(np.ones(n_classes) * 0.7, size=(n, n_years)).transpose(1, 2, 0)  # (Y, C, N)
    a = rng.dirichlet(np.ones(n_classes), size=n_classes) * 0.5 + np.eye(n_classes) * 0.5
    paths = viterbi(p, a, floor=0.01)
    marg = posterior(p, a, floor=0.01)
    for i in range(n):
        best, bm = brute_force(p[:, :, i], a, 0.01)
        assert paths[:, i].tolist() == best
        np.testing.assert_allclose(marg[:, :, i], bm, atol=1e-5)


def test_unobserved_years_are_nodata_and_bridged() -> None:
    p = series_probs([0, 0, 2, 0, 0, 0, 0])
    valid = np.ones((7, 1), dtype=bool)
    valid[2] = False  # the odd year has no data: it must not count as evidence
    got = viterbi(p, STAY_ONLY, valid)[:, 0]
    assert got.tolist() == [0, 0, NODATA_CLASS, 0, 0, 0, 0]
    marg = posterior(p, STAY_ONLY, valid)
    assert marg[2, :, 0].argmax() == 0


def test_estimate_transitions_counts_and_prior() -> None:
    series = np.array([[0, 0, 1], [0, -1, 1], [1, 1, 1]])
    a = estimate_transitions(series, 2, switch_odds=0.0, prior_share=0.5)
    # pairs: 0->0, 0->1, 1->1, 1->1 (the -1 year breaks its two pairs): F = [[.5, .5], [0, 1]], P = I
    np.testing.assert_allclose(a, [[0.75, 0.25], [0.0, 1.0]])
    # a class never seen before a known year falls back on the prior
    np.testing.assert_allclose(
        estimate_transitions(series, 3, switch_odds=0.125, prior_share=0.5)[2], [0.1, 0.1, 0.8]
    )
    np.testing.assert_allclose(STAY_ONLY, [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    for n_classes in (2, 5, 9):  # one change costs the same in the prior whatever the number of classes
        prior = estimate_transitions(np.zeros((0, 2), dtype=int), n_classes, switch_odds=0.5, prior_share=1.0)
        assert prior[0, 1] / prior[0, 0] == pytest.approx(0.5) and prior.sum(axis=1) == pytest.approx(1.0)
    with pytest.raises(ProductError):
        estimate_transitions(series, 2, switch_odds=1.5)


def test_uncertainty_measures() -> None:
    p = np.array([[1.0, 0.5, 0.4], [0.0, 0.5, 0.3], [0.0, 0.0, 0.3]])  # (C, N)
    h = entropy(p, axis=0)
    assert h[0] == pytest.approx(0.0) and h[1] == pytest.approx(np.log(2) / np.log(3))
    assert h[2] > h[1]
    np.testing.assert_allclose(margin(p, axis=0), [0.0, 1.0, 0.9], atol=1e-6)


def test_make_consistent_on_a_grid_of_pixels() -> None:
    """Many pixels at once: blips go, lasting changes stay, the blip year is the most uncertain."""
    blip = series_probs([0, 0, 0, 1, 0, 0, 0])
    lasting = series_probs([0, 0, 0, 2, 2, 2, 2])
    p = np.concatenate([blip, lasting] * 500, axis=2)  # (7, 3, 1000)
    valid = np.ones((7, 1000), dtype=bool)
    out = make_consistent(p, valid, STAY_ONLY, TemporalConfig(temperature=1.0))
    assert (out.classes[:, 0::2] == 0).all()
    assert (out.classes[3:, 1::2] == 2).all() and (out.classes[:3, 1::2] == 0).all()
    assert out.uncertainty[:, 0].argmax() == 3
    off = make_consistent(p, valid, STAY_ONLY, TemporalConfig(enabled=False))
    assert (off.classes[3, 0::2] == 1).all()  # without the temporal step the blip stays


def test_bad_inputs_raise() -> None:
    with pytest.raises(ProductError):
        viterbi(np.ones((3, 2)), STAY_ONLY)
    with pytest.raises(ProductError):
        viterbi(series_probs([0, 1]), np.ones((3, 3)))


def test_grid_with_smoothing_and_the_changed_table() -> None:
    """A (Y, C, H, W) grid: a pixel-year that disagrees with its neighbours and its own years is fixed,
    and the table counts exactly that pixel-year as moved from class 1 to class 0."""
    n_years, h, w = 5, 4, 4
    p = np.zeros((n_years, 3, h, w), dtype=np.float32)
    p[:, 0], p[:, 1], p[:, 2] = 0.7, 0.2, 0.1
    p[2, :, 1, 1] = [0.2, 0.7, 0.1]
    valid = np.ones((n_years, h, w), dtype=bool)
    valid[:, 3, 3] = False
    p[:, :, 3, 3] = np.nan
    raw = np.where(valid, np.nan_to_num(p, nan=0).argmax(axis=1), NODATA_CLASS)
    for smoothing in (SmoothingConfig(enabled=True), SmoothingConfig(enabled=False)):
        out = make_consistent_grid(p, valid, STAY_ONLY, TemporalConfig(), smoothing)
        assert out.classes.shape == (n_years, h, w)
        assert (out.classes[:, 3, 3] == NODATA_CLASS).all() and np.isnan(out.uncertainty[:, 3, 3]).all()
        assert (out.classes[valid] == 0).all()
        table = changed_by_step(raw, out.classes, 3)
        assert table[1, 0] == 1 and table.sum() == 1


def test_class_series_from_names() -> None:
    names = np.array([["Forest", "Pasture", ""], ["Soy", "Forest", "Forest"]])
    np.testing.assert_array_equal(class_series(names, ["Forest", "Pasture"]), [[0, 1, -1], [-1, 0, 0]])


def test_unsure_sample_years_do_not_count_in_the_transitions() -> None:
    """With min_confidence, a sample's switch in years TasGen was unsure of is left out of F."""
    series = np.array([[0, 1, 0, 0], [0, 0, 0, 0]])
    confidence = np.array([[0.9, 0.5, 0.9, 0.95], [0.99, 0.99, np.nan, 0.99]])
    every = estimate_transitions(series, 2, switch_odds=0.0, prior_share=0.0)
    np.testing.assert_allclose(every, [[0.8, 0.2], [1.0, 0.0]])  # 0->1 once in five 0->x pairs
    sure = estimate_transitions(series, 2, 0.0, 0.0, confidence=confidence, min_confidence=0.8)
    # left: the pairs touching the 0.5 year and the NaN year; 0 -> 0 twice; class 1 falls back on the prior
    np.testing.assert_allclose(sure, [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ProductError):
        estimate_transitions(series, 2, confidence=confidence[:, :3], min_confidence=0.5)


def test_temperature_flattens_without_changing_the_order() -> None:
    p = np.array([[[0.9], [0.08], [0.02]], [[np.nan], [np.nan], [np.nan]]], dtype=np.float32)  # (Y, C, N)
    same = temper(p, 1.0)
    np.testing.assert_array_equal(same[0], p[0])
    flat = temper(p, 2.0)
    assert flat[0, :, 0].sum() == pytest.approx(1.0) and flat[0, 0, 0] < 0.9
    assert flat[0, :, 0].argsort().tolist() == p[0, :, 0].argsort().tolist()
    assert np.isnan(flat[1]).all()
    with pytest.raises(ProductError):
        temper(p, 0.0)


def test_temperature_lets_the_transitions_remove_a_sure_blip() -> None:
    """A blip the classifier is sure of survives as given, and goes once its probabilities are tempered.

    Two switches cost 2 log 4 = 2.77; the blip year's evidence is log(0.95 / 0.025) = 3.64 as given,
    1.82 at temperature 2. A lasting change pays one switch against four such years and stays."""
    p = series_probs([0, 0, 0, 1, 0, 0, 0], sure=0.95)
    valid = np.ones((7, 1), dtype=bool)
    prior = estimate_transitions(np.zeros((0, 2), dtype=int), 3, switch_odds=0.25, prior_share=1.0)
    kept = make_consistent(p, valid, prior, TemporalConfig(temperature=1.0)).classes[:, 0]
    assert kept.tolist() == [0, 0, 0, 1, 0, 0, 0]
    gone = make_consistent(p, valid, prior, TemporalConfig(temperature=2.0)).classes[:, 0]
    assert gone.tolist() == [0] * 7
    lasting = series_probs([0, 0, 0, 2, 2, 2, 2], sure=0.95)
    assert make_consistent(lasting, valid, prior, TemporalConfig(temperature=2.0)).classes[:, 0].tolist() == [
        0,
        0,
        0,
        2,
        2,
        2,
        2,
    ]


@pytest.mark.parametrize("smooth", [False, True])
def test_strips_give_the_whole_grid_result(smooth: bool) -> None:
    """Reading a grid's probabilities a band of rows at a time (plus the smoother's halo) changes nothing."""
    rng = np.random.default_rng(3)
    n_years, n_classes, h, w = 6, 4, 23, 17
    probs = rng.dirichlet(np.ones(n_classes), size=(n_years, h, w)).transpose(0, 3, 1, 2).astype(np.float16)
    probs[2, :, 5:9, 3:6] = np.nan  # a year without data in a patch
    inside = np.ones((h, w), dtype=bool)
    inside[:, -3:] = False  # outside the area
    transitions = estimate_transitions(np.zeros((1, 2), dtype=int), n_classes, 0.5, 0.8)
    temporal, smoothing = TemporalConfig(), SmoothingConfig(enabled=smooth)

    def read_rows(lo: int, hi: int) -> np.ndarray:
        return probs[:, :, lo:hi].copy()

    raw, strips = make_consistent_strips(read_rows, inside, n_years, transitions, temporal, smoothing, 5)
    whole_probs = probs.copy()
    whole_probs[:, :, ~inside] = np.nan
    valid = ~np.isnan(whole_probs).any(axis=1) & inside[None]
    whole = make_consistent_grid(whole_probs, valid, transitions, temporal, smoothing)
    assert np.array_equal(strips.classes, whole.classes)
    assert np.array_equal(strips.uncertainty, whole.uncertainty.astype(np.float16), equal_nan=True)
    assert (raw[:, :, -3:] == NODATA_CLASS).all() and (raw[2, 5:9, 3:6] == NODATA_CLASS).all()
    assert ((raw[:, :, :-3] < n_classes) | (raw[:, :, :-3] == NODATA_CLASS)).all()
    assert (strips.classes[valid] < n_classes).all() and (strips.classes[~valid] == NODATA_CLASS).all()
