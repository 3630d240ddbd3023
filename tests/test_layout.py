"""The agreed layout holds and ``ml/`` stays a pure library."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {"django", "monitoring", "webapp", "tasks", "rest_framework", "celery"}


def test_top_level_layout() -> None:
    for name in [
        "manage.py",
        "requirements.txt",
        "webapp",
        "monitoring",
        "ml",
        "tasks",
        "templates",
        "static",
        "tests",
        "README.md",
        "Makefile",
        ".ci/run",
        "docs",
        "bench",
    ]:
        assert (REPO / name).exists(), f"{name} is missing at the top level"


def test_ml_imports_nothing_from_django_or_the_app() -> None:
    offenders = []
    files = sorted((REPO / "ml").rglob("*.py"))
    assert files, "ml/ has no modules"
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            bad = roots & FORBIDDEN
            if bad:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_torch_is_pinned() -> None:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in lines
