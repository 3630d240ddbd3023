"""``demo_store_dir`` for test folders outside tests/monitoring, encoded at most once per session.

Each conftest that imports a session fixture gets its own instance of it; this one keeps the encoded
store in one folder of the session's base temp directory (or ``ESD_TEST_STORE_CACHE``), so every
importer after the first finds it there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_store_dir(tmp_path_factory, shared_data) -> Path:
    """The real Mato Grosso MODIS stack encoded by the shipped ESDNet into ESD tiles."""
    from ml.esd.encode import encode_demo

    cache = os.environ.get("ESD_TEST_STORE_CACHE")
    out = Path(cache) if cache else tmp_path_factory.getbasetemp() / "demo-store-shared"
    folder = out / "mt-dtwsat"
    if not any(folder.glob("SDC30_EBD_V001_*.tif")):
        encode_demo(out, names=["mt-dtwsat"], shared=shared_data)
    return folder
