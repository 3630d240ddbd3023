"""ml.tasgen.dynamic on tiny arrays: which pixels TasGen runs on, static copies, reviewer overrides, votes."""

from __future__ import annotations

import numpy as np

from ml.tasgen.dynamic import (
    DIM_NAMES,
    DynamicLabels,
    attribution_summary,
    compute_attribution,
    compute_dynamic,
    label_years,
    sample_attributions,
    tasgen_input,
)
from ml.tasgen.pipeline import TasGenConfig

YEARS = np.array([2010, 2011, 2012])


def lookup(valid: np.ndarray, label_pk: list[int]) -> dict[str, np.ndarray]:
    s = valid.shape[0]
    rng = np.random.default_rng(0)
    return {
        "label_pk": np.asarray(label_pk, dtype=np.int64),
        "lon": np.linspace(-56.0, -55.9, s),
        "lat": np.linspace(-12.0, -11.9, s),
        "indices": rng.integers(1, 4000, size=(s, len(YEARS), 12)).astype(np.uint16),
        "valid": valid,
        "years": YEARS,
    }


def test_one_class_copies_static_labels_and_applies_corrections() -> None:
    valid = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=bool)
    data = lookup(valid, [10, 10, 11, 12])
    static = np.array(["Forest"] * 4)
    ref = np.array([2011, 2011, 2011, 2009])  # 2009 clips to 2010, where pixel 3 has no data
    ti = tasgen_input(data, static, ref, TasGenConfig(min_class_samples=2))
    assert ti.series is None and ti.run.tolist() == [True, False, True, False]
    assert any("no ESD data in their reference year" in w for w in ti.warnings)
    assert any("fewer than 2 classes" in w for w in ti.warnings)
    dyn, model = compute_dynamic(
        ti, TasGenConfig(), seed=0, corrections={11: {"2012": "Soy"}, 12: {"2011": "Soy"}}
    )
    assert model is None
    assert dyn.klass.tolist() == [
        ["Forest", "Forest", "Forest"],
        ["Forest", "", "Forest"],
        ["Forest", "Forest", ""],  # the correction of 2012 needs data in 2012
        ["", "Soy", "Forest"],
    ]
    assert dyn.changed.tolist() == [[False] * 3, [False] * 3, [False] * 3, [False, True, False]]
    assert not dyn.tasgen_changed.any() and np.isnan(dyn.score).all()
    assert dyn.confidence.tolist() == [[1, 1, 1], [1, 0, 1], [1, 1, 0], [0, 1, 1]]
    again = DynamicLabels.from_arrays(dyn.to_arrays())
    for name, value in dyn.to_arrays().items():
        np.testing.assert_array_equal(getattr(again, name), value)  # NaN scores compare equal
    att = compute_attribution(None, ti, dyn, seed=0)
    assert att["att_month"].shape == (4, 3, 12) and not att["att_month"].any()


def test_too_small_classes_keep_their_static_class() -> None:
    valid = np.ones((3, 3), dtype=bool)
    ti = tasgen_input(
        lookup(valid, [1, 2, 3]),
        np.array(["A", "A", "B"]),
        np.full(3, 2011),
        TasGenConfig(min_class_samples=2),
    )
    assert ti.run.tolist() == [True, True, False] and ti.series is None
    assert any("fewer than 2 usable labels keep their static class: B" in w for w in ti.warnings)


def test_votes_and_attributions_per_label_and_year() -> None:
    klass = np.array([["A", "B"], ["B", "B"], ["B", ""]])
    dyn = DynamicLabels(
        label_pk=np.array([5, 5, 5]),
        lon=np.zeros(3),
        lat=np.zeros(3),
        years=np.array([2010, 2011]),
        valid=klass != "",
        static=np.array(["A", "A", "A"]),
        klass=klass,
        changed=klass == "B",
        tasgen_changed=klass == "B",
        threshold=np.zeros(3),
        value=np.zeros((3, 2)),
        answered=np.zeros((3, 2), dtype=bool),
        ref_index=np.zeros(3, dtype=np.int64),
        suggested=np.array(["", "", ""]),
        score=np.zeros((3, 2)),
        confidence=np.ones((3, 2)),
        warnings=np.array([], dtype=str),
    )
    votes = [(pk, j, vote, agree.tolist()) for pk, j, _, _, agree, vote in label_years(dyn)]
    assert votes == [(5, 0, "B", [1, 2]), (5, 1, "B", [0, 1])]
    month = np.zeros((3, 2, 12), np.float32)
    month[1, 0, 6] = 1.0  # July explains pixel 1 in 2010, pixel 2 has nothing: the mean is 0.5
    dim = np.zeros((3, 2, 6), np.float32)
    dim[1, 0, 2] = 1.0
    out = sample_attributions(dyn, {"att_month": month, "att_dim": dim})
    assert list(out) == [(5, 2010)]
    assert out[(5, 2010)]["top_months"] == ["Jul"] and out[(5, 2010)]["months"]["Jul"] == 0.5
    assert out[(5, 2010)]["top_bands"] == [DIM_NAMES[2]]
    assert attribution_summary(np.zeros(12), np.zeros(6)) == {}
