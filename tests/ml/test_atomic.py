"""ml.atomic: a writer that fails leaves the old file (or none) and no temporary file behind."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from ml.atomic import FILE_MODE, atomic_path, save_npz_atomic, write_bytes_atomic, write_text_atomic


def test_writes_replace_whole_files_with_the_published_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.json"
    write_text_atomic(target, "one")
    write_bytes_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == FILE_MODE
    save_npz_atomic(tmp_path / "a.npz", x=np.arange(3))
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        assert data["x"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.npz", "out.json", "sub"]


def test_a_failing_writer_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "map.tif"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target, suffix=".tmp.tif") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".tmp.tif") and not tmp.exists()
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["map.tif"]
