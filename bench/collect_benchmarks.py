"""Assemble docs/benchmarks.md: the headline table plus every topic page of docs/benchmarks/ in full."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
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


def main() -> None:
    head = (DOCS / "benchmarks" / "_summary.md").read_text()
    parts = [head.rstrip(), ""]
    for name in ORDER:
        text = (DOCS / "benchmarks" / f"{name}.md").read_text().rstrip()
        parts += [
            f"<!-- from docs/benchmarks/{name}.md -->",
            "#" + text if text.startswith("# ") else text,
            "",
        ]
    (DOCS / "benchmarks.md").write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
