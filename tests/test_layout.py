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


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``module`` (at ``path``) imports anywhere (top level or in functions)."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:  # `from a.b import c` is module a.b.c or a name in a.b
                name = name.rpartition(".")[0]
            if name and name != module and not (REPO / name.replace(".", "/") / "__init__.py").exists():
                out.add(name)
    return out


def test_no_import_circles() -> None:
    """No two modules of ml/, monitoring/, tasks/ or webapp/ import each other, directly or round a loop."""
    files = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for top in ("ml", "monitoring", "tasks", "webapp")
        for p in (REPO / top).rglob("*.py")
        if "migrations" not in p.parts
    }
    graph = {m: _imports(p, m, set(files)) for m, p in files.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    assert not cycles, f"import circles: {cycles}"


def test_monitoring_does_not_import_webapp() -> None:
    offenders = []
    for path in sorted((REPO / "monitoring").rglob("*.py")) + sorted((REPO / "tasks").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [module or ""]
            if any(n == "webapp" or n.startswith("webapp.") for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}")
    assert not offenders, "monitoring/ and tasks/ must not import webapp/: " + ", ".join(offenders)


def test_pipeline_stage_modules_fit_one_screen() -> None:
    """Each module of monitoring/services/pipeline/ reads inputs, calls ml, writes outputs: <= 150 lines."""
    long = {
        p.name: n
        for p in sorted((REPO / "monitoring" / "services" / "pipeline").glob("*.py"))
        if (n := len(p.read_text().splitlines())) > 150
    }
    assert not long, f"pipeline modules over 150 lines: {long}"
