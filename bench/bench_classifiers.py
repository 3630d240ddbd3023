"""Map-classifier benchmark (issue 18): held-out-location OA and single-thread speed, protocol split.

Runs :func:`ml.eval.classifiers.compare` in ``protocol`` mode (the choice of ``mlp`` was made on the
``dev`` splits: ``python -m ml.eval.classifiers dev``), writes the whole comparison to
``bench/results/classifiers_raw/protocol.json`` and two headline figures: the fast candidate's
(``mlp``) mean held-out OA minus the random forest's (issue 18's rule for a classifier change:
within 0.5 points, ``>= -0.5``), and the map classifier's predict throughput on one core (goal
``>= 1`` M pixel-years/s, what a full MGRS tile x 25 years in 30 minutes needs).
Usage::

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.bench_classifiers [--only forest mlp lightgbm]
"""

from __future__ import annotations

import argparse
import json

from bench.results import RESULTS_DIR, Figure, record, this_command
from ml.eval.classifiers import FILES, compare, encode_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=["forest", "mlp", "lightgbm", "hgb"])
    args = parser.parse_args()
    result = compare("protocol", [encode_file(f) for f in FILES], args.only)
    raw = RESULTS_DIR / "classifiers_raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "protocol.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    rf, mlp = result["candidates"]["forest"], result["candidates"]["mlp"]
    details: dict[str, object] = {
        name: {k: c[k] for k in ("oa_mean", "predict_m_rows_per_s", "fit_s_per_m_rows")}
        for name, c in result["candidates"].items()
    }
    record(
        Figure(
            name="classifier_mlp_oa_delta",
            value=round(mlp["oa_mean"] - rf["oa_mean"], 2),
            unit="points",
            goal=">= -0.5",
            title="Fast classifier candidate (mlp): held-out-location OA minus the forest's, 6 sample files",
            command=this_command(),
            section="classifiers",
            details=details,
        ),
        Figure(
            name="classifier_predict_rate",
            value=rf["predict_m_rows_per_s"],
            unit="M pixel-years/s",
            goal=">= 1",
            title="Map classifier (forest, the default) predict throughput, one core",
            command=this_command(),
            section="classifiers",
            details={"mlp_m_rows_per_s": mlp["predict_m_rows_per_s"]},
        ),
    )


if __name__ == "__main__":
    main()
