"""Helpers shared by the tests and the benchmarks: the shared data, real workers, the Mato Grosso labels.

A package (not ``tests/``) so that ``python -m bench.<name>`` imports it from the repo root without
path tricks; nothing here is imported by the app.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ESD_SHARED_DATA", REPO.parent / "shared" / "data"))  # ../shared/data
