"""Assemble docs/benchmarks.md: the headline table from bench/results/*.json, then every topic page.

The headline table is generated: each row is one ``bench/results/<name>.json`` (written by a benchmark
through :func:`bench.results.record`), so it always shows the last measured value with its command,
machine, load, commit and date. Figures measured before result files existed stay in
``docs/benchmarks/_summary.md`` under "Earlier figures" until their benchmark is rerun.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: `python bench/collect_benchmarks.py`
    sys.path.insert(0, str(REPO))

from bench.results import RESULTS_DIR, Figure, read_all  # noqa: E402

DOCS = REPO / "docs"
MARKER = "<!-- headline figures from bench/results/*.json -->"
ORDER = [
    "store",
    "esdnet",
    "tasgen",
    "analysis",
    "tiles",
    "faults_security_load",
    "scale_out",
    "change_maps",
    "uploads",
]


def _value(fig: Figure) -> str:
    v = fig.value
    text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}"
    return f"{text} {fig.unit}".strip()


def headline_table(figures: list[Figure]) -> str:
    """The markdown table of ``figures``: what, value, goal (met or not), command, machine, load, commit, date."""
    rows = [
        "| figure | value | goal | met | command | machine, load (1/5/15 min) | commit, date |",
        "|---|---|---|---|---|---|---|",
    ]
    for fig in figures:
        met = {True: "yes", False: "**no**", None: ""}[fig.met]
        where = f" ({fig.section})" if fig.section else ""
        rows.append(
            f"| {fig.title} `{fig.name}` | {_value(fig)} | {fig.goal} | {met} | `{fig.command}`{where} "
            f"| {fig.machine}; {fig.load} | {fig.commit}, {fig.date} |"
        )
    return "\n".join(rows)


def main() -> None:
    head = (DOCS / "benchmarks" / "_summary.md").read_text().rstrip()
    figures = read_all(RESULTS_DIR)
    table = headline_table(figures) if figures else "(no result files yet: run `make bench`)"
    head = head.replace(MARKER, MARKER + "\n\n" + table) if MARKER in head else head + "\n\n" + table
    parts = [head, ""]
    for name in ORDER + sorted(
        p.stem
        for p in (DOCS / "benchmarks").glob("*.md")
        if p.stem not in ORDER and not p.stem.startswith("_")
    ):
        text = (DOCS / "benchmarks" / f"{name}.md").read_text().rstrip()
        parts += [
            f"<!-- from docs/benchmarks/{name}.md -->",
            "#" + text if text.startswith("# ") else text,
            "",
        ]
    (DOCS / "benchmarks.md").write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
