"""SpatiaLite, GeoDjango, rasterio, pyproj, pyogrio and shapely work together in one process.

SpatiaLite loads the system PROJ/GEOS with RTLD_GLOBAL; wheels that bundle their own copies then
crash (segfault) on first use. The project builds those packages against the system libraries; this
test runs the sequence that used to crash, in a fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import django; django.setup()
from django.db import connection
connection.cursor().execute("SELECT spatialite_version()")
from rasterio.crs import CRS
from rasterio.warp import transform
x, y = transform("EPSG:4326", CRS.from_epsg(32613), [-105.0], [40.0])
assert abs(x[0] - 500000) < 1 and abs(y[0] - 4427757.2) < 1, (x, y)
import pyproj
assert pyproj.CRS("EPSG:4326").name == "WGS 84"
import geopandas as gpd
from shapely.geometry import Point
frame = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(-55.9, -12.0)], crs="EPSG:4326")
frame.to_file(r"{out}", driver="GPKG", engine="pyogrio")
print("geo stack ok")
"""


def test_spatialite_and_geo_wheels_in_one_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="webapp.settings.base", ESD_VAR_DIR=str(tmp_path / "var"))
    code = SCRIPT.replace("{out}", str(tmp_path / "x.gpkg"))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-2000:]}"
    assert "geo stack ok" in result.stdout
