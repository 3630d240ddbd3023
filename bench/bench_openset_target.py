"""Choosing the open-set threshold for changed years (``target_novelty_threshold``) on development cases.

For each development case (held-out folds as in ``python -m ml.tasgen evaluate --first-seed ...``),
TasGen is applied with the target rule off and every changed, scored, not-yet-unknown year is put in
one group by its truth: ``correct`` (stage 2 moved it to its true, known class), ``absent`` (a real
change to a class the static labels lack), ``wrong_known`` (a real change relabelled to the wrong
known class) or ``false`` (no real change). For each threshold the script prints the share of each
group whose novelty under the class it moved to exceeds it, i.e. would be named ``unknown``.
The rule chosen in ``docs/tasgen.md`` (step 8c): the lowest threshold at which at most 5 % of the
``correct`` years turn unknown.

Run: ``OMP_NUM_THREADS=1 python -m bench.bench_openset_target`` (CPU heavy: about 6 TasGen fits per
case; prints JSON). ``--cases prodes:100,dtwsat:100`` picks cases.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from ml.eval.protocols import protocol_case  # noqa: E402
from ml.samples import load_samples  # noqa: E402
from ml.tasgen.openset import class_novelty  # noqa: E402
from ml.tasgen.pipeline import TasGenConfig, apply_tasgen, fit_tasgen  # noqa: E402
from ml.tasgen.relabel import year_features  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "data" / "samples"
FILES = {
    "prodes": "prodes_226_064_deforestation.npz",
    "splice_cerrado": "cerrado_modis_2classes_multiyear.npz",
    "splice_mt9": "matogrosso_modis_9classes.npz",
}
DEFAULT_CASES = "splice_cerrado:100,splice_mt9:100,prodes:100,prodes:101,dtwsat:100"
THRESHOLDS = (2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0)
GROUPS = ("correct", "absent", "wrong_known", "false")


def target_novelty(name: str, seed: int) -> dict[str, list[float]]:
    """Novelty under the new class of each changed scored year of one case, by truth group."""
    protocol = "splice" if name.startswith("splice") else name
    samples = load_samples(SAMPLES / FILES[name]) if name in FILES else None
    case = protocol_case(protocol, samples, seed)
    out: dict[str, list[float]] = {g: [] for g in GROUPS}
    for f in (0, 1):
        te = case.fold == f
        model = fit_tasgen(case.series.subset(~te), TasGenConfig(), seed)
        test = case.series.subset(te)
        off = replace(model, config=replace(model.config, target_novelty_threshold=0.0))
        dyn = apply_tasgen(off, test, seed, attribute=False)
        v = test.valid
        x = np.where(v[..., None, None], model.standardize(test.values), 0.0).astype(np.float32)
        if model.reference is None:
            continue
        nov = class_novelty(model.reference, year_features(x[v]))
        look = {c: i for i, c in enumerate(model.all_classes)}
        klass, truth = dyn.klass[v], case.truth[te][v]
        static = np.broadcast_to(test.static_class[:, None], v.shape)[v]
        for r in np.flatnonzero(dyn.changed[v] & ~dyn.unknown[v] & case.scored_mask[te][v]):
            group = (
                "false"
                if truth[r] == static[r]
                else "correct"
                if truth[r] == klass[r]
                else "absent"
                if truth[r] not in look
                else "wrong_known"
            )
            out[group].append(float(nov[r, look[klass[r]]]))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--cases", default=DEFAULT_CASES, help="name:seed,... (prodes, splice_cerrado, splice_mt9, dtwsat)"
    )
    args = p.parse_args()
    pooled: dict[str, list[float]] = {g: [] for g in GROUPS}
    per_case = {}
    for item in args.cases.split(","):
        name, seed = item.split(":")
        got = target_novelty(name, int(seed))
        per_case[item] = {g: len(v) for g, v in got.items()}
        for g in GROUPS:
            pooled[g] += got[g]
    table = {
        str(t): {g: round(float(np.mean(np.array(v) > t)), 3) if v else None for g, v in pooled.items()}
        for t in THRESHOLDS
    }
    print(json.dumps({"years_per_case": per_case, "share_unknown_by_threshold": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
