"""Relabeling on real changes (issue 15): the protocol runs behind the acceptance figures.

Runs ``python -m ml.tasgen evaluate`` for one case (``--case``) on the reported protocol seeds, keeps
its JSON under ``bench/results/relabel_raw/<case>.json`` and records the figures the issue names in
``bench/results/relabel_<case>.json`` (through ``bench.results.record``):

- ``dtwsat`` (3 seeds, reviews 0,10,20,30,50): no-review change F1 / precision / recall, relabel OA
  after 30 uncertainty reviews;
- ``prodes`` (10 seeds, reviews 0,10,20): no-review change F1; F1 and kappa after 20 reviews;
  uncertainty minus random F1 at 20;
- ``stable_cerrado`` / ``stable_mt9`` (3 seeds): false change rate.

Run: ``python -m bench.bench_relabel --case dtwsat`` (CPU heavy: run niced, one at a time, with
``OMP_NUM_THREADS=1``). ``--first-seed 100`` runs development seeds instead (not recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from bench.results import RESULTS_DIR, Figure, record  # noqa: E402

SAMPLES = Path("../shared/data/samples")
CASES: dict[str, list[str]] = {
    "dtwsat": ["--protocol", "dtwsat", "--seeds", "3", "--reviews", "0,10,20,30,50"],
    "prodes": [
        "--protocol",
        "prodes",
        "--samples",
        str(SAMPLES / "prodes_226_064_deforestation.npz"),
        "--reviews",
        "0,10,20",
    ],
    "stable_cerrado": [
        "--protocol",
        "stable",
        "--samples",
        str(SAMPLES / "cerrado_modis_2classes_multiyear.npz"),
    ],
    "stable_mt9": ["--protocol", "stable", "--samples", str(SAMPLES / "matogrosso_modis_9classes.npz")],
}


def _at(curve: list[dict[str, float]], k: int) -> dict[str, float]:
    return next(c for c in curve if int(c["reviews"]) == k)


def figures(case: str, r: dict, command: str) -> list[Figure]:
    """The issue's figures of one case's JSON ``r``."""

    def fig(name: str, value: float, unit: str, goal: str, title: str) -> Figure:
        return Figure(
            f"relabel_{case}_{name}",
            round(value, 4),
            unit,
            goal,
            title,
            command,
            section="tasgen",
            details={},
        )

    if case == "dtwsat":
        c30 = _at(r["curve"], 30)
        return [
            fig("change_f1", r["change_f1"], "", ">= 0.75", "dtwsat real changes, no review: change F1"),
            fig(
                "change_precision", r["change_precision"], "", ">= 0.6", "dtwsat, no review: change precision"
            ),
            fig("change_recall", r["change_recall"], "", ">= 0.6", "dtwsat, no review: change recall"),
            fig("oa_30_reviews", c30["relabel_oa"], "", ">= 0.86", "dtwsat: other-year OA after 30 reviews"),
        ]
    if case == "prodes":
        u20, r20 = _at(r["curve"], 20), _at(r["curve_random"], 20)
        return [
            fig("change_f1", r["change_f1"], "", ">= 0.65", "prodes, no review: change F1"),
            fig("f1_20_reviews", u20["change_f1"], "", ">= 0.85", "prodes: change F1 after 20 reviews"),
            fig("kappa_20_reviews", u20["kappa"], "", ">= 0.93", "prodes: kappa after 20 reviews"),
            fig(
                "uncertainty_minus_random_f1_20",
                100 * (u20["change_f1"] - r20["change_f1"]),
                "F1 points",
                ">= 5",
                "prodes: uncertainty minus random queries, change F1 at 20 reviews",
            ),
        ]
    return [
        fig(
            "false_change_rate",
            100 * r["false_change_rate"],
            "%",
            "<= 3",
            f"{case}: false change rate on real stable series",
        )
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--case", choices=sorted(CASES), help="one case (default: all, one after the other)")
    p.add_argument("--first-seed", type=int, default=0)
    args = p.parse_args()
    for case in [args.case] if args.case else sorted(CASES):
        rc = run_case(case, args.first_seed)
        if rc:
            return rc
    return 0


def run_case(case: str, first_seed: int) -> int:
    """Run one case's evaluate command; record its figures (protocol seeds only). Returns the exit code."""
    cmd = [sys.executable, "-m", "ml.tasgen", "evaluate", *CASES[case]]
    if first_seed:
        cmd += ["--first-seed", str(first_seed)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return out.returncode
    result = json.loads(out.stdout)
    shown = " ".join(["python -m ml.tasgen evaluate", *CASES[case]])
    if first_seed:
        print(json.dumps(result, indent=1))
        return 0
    raw = RESULTS_DIR / "relabel_raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / f"{case}.json").write_text(json.dumps(result, indent=1) + "\n")
    for path in record(*figures(case, result, shown)):
        print(path.relative_to(ROOT), json.loads(path.read_text())["value"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
