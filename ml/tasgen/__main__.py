"""CLI: ``python -m ml.tasgen run|evaluate`` (dynamic samples from a sample file; protocol metrics).

``run --samples FILE.npz --out dynamic.csv``: one sample per location of the file, its static class
taken from its first (``--reference first``) or last year, TasGen fitted on those static labels; one
CSV row per valid sample-year; prints a JSON summary.

``evaluate --samples FILE.npz --protocol prodes|splice``: prints JSON metrics (TasGen at the top
level, then ``baselines``); see ``ml.eval.protocols``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import cast

from ml.errors import MLError, TasGenError
from ml.eval.protocols import PROTOCOLS, evaluate_protocol
from ml.eval.real_cases import default_dtwsat_cube
from ml.eval.simulated_review import QUERIES
from ml.samples import load_samples
from ml.tasgen.pipeline import TasGenConfig, run_tasgen
from ml.tasgen.series import series_from_samples


def _budgets(text: str) -> list[int]:
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--reviews takes comma-separated integers, got {text!r}") from exc
    if not out or any(v < 0 for v in out):
        raise argparse.ArgumentTypeError(f"--reviews takes integers >= 0, got {text!r}")
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml.tasgen", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="dynamic samples of a sample file -> CSV")
    r.add_argument("--samples", required=True, type=Path, help="sample .npz (ml.samples format)")
    r.add_argument("--out", required=True, type=Path, help="output CSV, one row per valid sample-year")
    r.add_argument("--reference", choices=("first", "last"), default="first", help="static-label year")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--epochs", type=int, default=TasGenConfig.epochs)
    e = sub.add_parser("evaluate", help="protocol metrics with baselines (JSON)")
    e.add_argument(
        "--samples", type=Path, default=None, help="sample .npz (ml.samples format; not for dtwsat)"
    )
    e.add_argument("--protocol", required=True, choices=PROTOCOLS)
    e.add_argument(
        "--cube",
        type=Path,
        default=None,
        help="dtwsat: folder of the MODIS cube and samples_MT.shp (default ../shared/data/rasters/"
        "modis_matogrosso_dtwsat/lucc_MT_2007_2013)",
    )
    e.add_argument("--seeds", type=int, default=None, help="number of seeds (default 10 prodes, 3 splice)")
    e.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first-seed .. first-seed+seeds-1 (0: the reported protocol seeds; tune on others, e.g. 100)",
    )
    e.add_argument("--epochs", type=int, default=TasGenConfig.epochs)
    e.add_argument(
        "--reviews",
        type=_budgets,
        default=None,
        help="simulated reviewer: review budgets, e.g. 0,10,20,50 (adds curve and curve_random)",
    )
    e.add_argument("--query", choices=QUERIES, default="uncertainty", help="simulated reviewer's query rule")
    e.add_argument("--splice-samples", type=int, default=300, help="samples per splice case")
    e.add_argument("--gibbs", action="store_true", help="also run the Gibbs attribution (not scored)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        samples = load_samples(args.samples) if args.samples is not None else None
        if args.command == "run":
            located = series_from_samples(samples, args.reference)  # type: ignore[arg-type]  # --samples is required for run
            series = located.series
            out = run_tasgen(series, TasGenConfig(epochs=args.epochs), args.seed)
            rows = out.to_rows(series.static_class, series.dim_names)
            for row in rows:
                i = int(cast(int, row["sample"]))
                row["lon"], row["lat"] = float(located.lon[i]), float(located.lat[i])
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["sample"])
                writer.writeheader()
                writer.writerows(rows)
            summary = {
                "samples": series.n_samples,
                "years": list(series.years),
                "sample_years": int(series.valid.sum()),
                "changed_sample_years": int(out.changed.sum()),
                "samples_with_changed_year": int(out.changed.any(1).sum()),
                "out": str(args.out),
                "runtime_s": round(time.perf_counter() - t0, 2),
            }
            print(json.dumps(summary, indent=2))
        else:
            n = args.seeds if args.seeds is not None else (10 if args.protocol == "prodes" else 3)
            if args.protocol != "dtwsat" and samples is None:
                raise TasGenError(f"--protocol {args.protocol} needs --samples FILE.npz")
            cfg = TasGenConfig(epochs=args.epochs, gibbs_max=TasGenConfig.gibbs_max if args.gibbs else 0)
            result = evaluate_protocol(
                samples,
                args.protocol,
                list(range(args.first_seed, args.first_seed + n)),
                cfg,
                args.splice_samples,
                args.cube,
                args.reviews,
                args.query,
            )
            result["samples_file"] = str(args.samples) if args.samples is not None else None
            if args.protocol == "dtwsat":
                result["cube"] = str(args.cube or default_dtwsat_cube())
            result["runtime_s"] = round(time.perf_counter() - t0, 2)
            print(json.dumps(result, indent=2))
    except MLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
