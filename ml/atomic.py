"""Atomic file writes: the one temp-file-and-rename writer every output of the project goes through.

A writer fills a temporary file in the target's folder (same file system, so the rename is atomic)
and renames it over the target only when it is complete: a killed process leaves the old file or
none, never half a file, at the (deterministic) target path, and a re-run simply replaces it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np

FILE_MODE: Final[int] = 0o644  # published files are world-readable (mkstemp alone would give 0600)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, suffix: str = ".tmp", mode: int = FILE_MODE) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``target``; on success it is renamed to ``target``.

    The temporary file is not created: the caller's writer creates it (GDAL and GeoPackage writers
    want to create their own file). ``suffix`` lets writers that pick a format by extension see the
    right one (e.g. ``".tmp.gpkg"``). On any error the temporary file is removed and ``target`` is
    left as it was. The parent folder is created when missing.
    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:12]}{suffix}"
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes_atomic(path: str | Path, content: bytes, *, mode: int = FILE_MODE) -> Path:
    """Write ``content`` to ``path`` atomically; returns the path."""
    with atomic_path(path, mode=mode) as tmp:
        tmp.write_bytes(content)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, *, mode: int = FILE_MODE) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"), mode=mode)


def save_npz_atomic(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write arrays as an uncompressed ``.npz`` atomically (read back with ``allow_pickle=False``)."""
    with atomic_path(path, suffix=".npz.tmp") as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub lets **arrays fill allow_pickle: bool
    return Path(path)
