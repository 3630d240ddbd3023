"""bench/results.py: figures written as JSON, read back, and judged against their goals."""

from __future__ import annotations

import json
from pathlib import Path

from bench.collect_benchmarks import headline_table
from bench.results import Figure, read_all, record


def test_record_and_read_back_fill_provenance(tmp_path: Path) -> None:
    fig = Figure(
        name="e2e_x", value=12.5, unit="s", goal="<= 15", title="X end to end", command="python bench/x.py"
    )
    (path,) = record(fig, results_dir=tmp_path)
    data = json.loads(path.read_text())
    assert data["name"] == "e2e_x" and data["value"] == 12.5 and data["met"] is True
    for key in ("machine", "load", "commit", "date", "command", "goal", "unit"):
        assert data[key], key
    (back,) = read_all(tmp_path)
    assert back.value == 12.5 and back.met is True


def test_goals_are_judged_and_odd_goals_are_informative() -> None:
    def met(value: float, goal: str) -> bool | None:
        return Figure(name="f", value=value, unit="", goal=goal, title="f", command="c").met

    assert met(99, "<= 100") is True and met(101, "<= 100") is False
    assert met(1.8, ">= 1.8") is True and met(1.79, "≥ 1.8") is False
    assert met(3, "< 4 GiB") is True and met(5, "< 4 GiB") is False
    assert met(5, "") is None and met(5, "about right") is None


def test_read_all_accepts_lists_and_files_without_title(tmp_path: Path) -> None:
    base = {
        "unit": "ms",
        "goal": "<= 100",
        "command": "c",
        "machine": "m",
        "load": "1",
        "commit": "a",
        "date": "d",
    }
    (tmp_path / "two.json").write_text(
        json.dumps([{**base, "name": "a", "value": 50}, {**base, "name": "b", "value": 150}])
    )
    figs = read_all(tmp_path)
    assert [f.name for f in figs] == ["a", "b"] and [f.met for f in figs] == [True, False]
    table = headline_table(figs)
    assert "| a `a` | 50.0 ms | <= 100 | yes |" in table and "**no**" in table
