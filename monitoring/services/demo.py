"""Demo content for ``make run`` (idempotent): the demo user, the demo ESD stores encoded from the real
rasters of ``../shared/data``, AOIs over them, label sets from real labelled points, one finished analysis.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.gis.db.models import Extent
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import transaction

from monitoring.models import AOI, Analysis, EsdTile, Label, LabelSet
from monitoring.services.esd_catalog import esd_index

logger = logging.getLogger(__name__)

DEMO_ANALYSIS = "Demo: Mato Grosso 2007-2013 (static labels of crop year 2011-12)"
MT_LABELS = "Mato Grosso crop year 2011-12 (dtwSat points)"
SLOVENIA_LABELS = "Slovenia land cover reference (eo-learn, sampled points)"
SLOVENIA_CLASSES = {
    1: "Cultivated land",
    2: "Forest",
    3: "Grassland",
    4: "Shrubland",
    8: "Artificial surface",
}


@transaction.atomic
def demo_user_ensure(*, username: str, password: str) -> User:
    """Create the demo user or reset its password; returns the user."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.org"}
    )
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def demo_store_ensure(store: Path, shared: Path) -> list[str]:
    """Encode the demo stores (once) and index every store folder; returns console lines."""
    from ml.esd.encode import encode_demo
    from ml.esd.rasters import DEMO_SOURCES

    lines = []
    missing = [name for name in DEMO_SOURCES if not any((store / name).glob("SDC30_EBD_V001_*.tif"))]
    if missing:
        report = encode_demo(store, names=missing, shared=shared)
        for name, info in report.items():
            lines.append(f"encoded demo store {name}: {len(info['tiles'])} tiles in {info['seconds']} s")
    for folder in sorted(p for p in store.iterdir() if p.is_dir()):
        rep = esd_index(location=str(folder))
        lines.append(
            f"indexed {folder.name}: {len(rep.new)} new, {len(rep.updated)} updated, {len(rep.unchanged)} unchanged, {len(rep.rejected)} rejected"
        )
    return lines


def _aoi(owner: User, name: str, west: float, south: float, east: float, north: float) -> AOI:
    from shapely.geometry import box

    from monitoring.parsers import validate_aoi_geometry
    from monitoring.services.uploads import upload_limits

    checked = validate_aoi_geometry(box(west, south, east, north), upload_limits())
    aoi, _ = AOI.objects.update_or_create(
        owner=owner,
        name=name,
        defaults={
            "geometry": GEOSGeometry(memoryview(checked.geometry.wkb), srid=4326),
            "area_km2": checked.area_km2,
        },
    )
    return aoi


def _label_set(owner: User, name: str, rows: list[tuple[float, float, str, datetime.date]]) -> LabelSet:
    from monitoring.services.labels import _class_list

    existing = LabelSet.objects.filter(owner=owner, name=name).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        label_set = LabelSet.objects.create(
            owner=owner,
            name=name,
            classes=_class_list([r[2] for r in rows]),
            source_filename="demo",
            upload_report={"accepted": len(rows), "rejected": []},
        )
        Label.objects.bulk_create(
            [
                Label(
                    label_set=label_set,
                    row=i + 1,
                    geometry=Point(lon, lat, srid=4326),
                    klass=k,
                    reference_date=d,
                )
                for i, (lon, lat, k, d) in enumerate(rows)
            ]
        )
    return label_set


def _mt_rows(shared: Path) -> list[tuple[float, float, str, datetime.date]]:
    import geopandas as gpd

    frame = gpd.read_file(
        shared / "rasters" / "modis_matogrosso_dtwsat" / "lucc_MT_2007_2013" / "samples_MT.shp"
    )
    frame = frame[frame["to"].astype(str).str.startswith("2012")]
    return [
        (g.x, g.y, str(c), datetime.date.fromisoformat(str(f)[:10]))
        for g, c, f in zip(frame.geometry, frame["group"], frame["from"], strict=True)
    ]


def _slovenia_rows(shared: Path) -> list[tuple[float, float, str, datetime.date]]:
    """Up to 60 pixels per class of the eo-learn land-cover reference (seeded), as points."""
    from rasterio.warp import transform as warp_transform

    folder = shared / "rasters" / "eolearn_slovenia"
    mask = np.load(folder / "mask_timeless_LULC.npy")[..., 0]
    import json

    ring = json.loads((folder / "bbox.geojson").read_text())["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    left, top = min(xs), max(ys)
    res_x, res_y = (max(xs) - left) / mask.shape[1], (top - min(ys)) / mask.shape[0]
    rng = np.random.default_rng(0)
    rows = []
    for code, name in SLOVENIA_CLASSES.items():
        r, c = np.nonzero(mask == code)
        pick = rng.choice(r.size, min(60, r.size), replace=False)
        x = left + (c[pick] + 0.5) * res_x
        y = top - (r[pick] + 0.5) * res_y
        lon, lat = warp_transform("EPSG:32633", "EPSG:4326", x.tolist(), y.tolist())
        rows += [(lo, la, name, datetime.date(2017, 1, 1)) for lo, la in zip(lon, lat, strict=True)]
    return rows


def demo_load(*, username: str, password: str) -> list[str]:
    """Load everything demo-related; returns lines for the console."""
    from monitoring.services.pipeline.runner import run_inline

    user = demo_user_ensure(username=username, password=password)
    lines = [f"demo user: {username} / password: {password}  (log in at http://127.0.0.1:8000/)"]
    shared = Path(settings.SHARED_DATA_DIR)
    if not shared.is_dir():
        return [*lines, f"no shared data at {shared}: demo stores and labels skipped (set ESD_SHARED_DATA)"]
    store = Path(settings.ESD_STORE)
    store.mkdir(parents=True, exist_ok=True)
    lines += demo_store_ensure(store, shared)
    extents = {
        t: EsdTile.objects.filter(tile_id=t).aggregate(e=Extent("footprint"))["e"]
        for t in ("MT-DTWSAT", "SI-EOLEARN", "CO-P035R032")
    }
    aois = {}
    for tile_id, name in (
        ("MT-DTWSAT", "Mato Grosso demo (MODIS 2007-2013)"),
        ("SI-EOLEARN", "Slovenia demo (Sentinel-2 NDVI 2016-2017)"),
        ("CO-P035R032", "Colorado demo (Landsat 2008-2012)"),
    ):
        if extents[tile_id]:
            w, s, e, n = extents[tile_id]
            dx, dy = (e - w) * 0.01, (n - s) * 0.01  # just inside the tiles
            aois[tile_id] = _aoi(user, name, w + dx, s + dy, e - dx, n - dy)
    mt_aoi = aois["MT-DTWSAT"]
    mt_labels = _label_set(user, MT_LABELS, _mt_rows(shared))
    _label_set(user, SLOVENIA_LABELS, _slovenia_rows(shared))
    analysis = Analysis.objects.filter(owner=user, name=DEMO_ANALYSIS, status=Analysis.Status.DONE).first()
    if analysis is None:
        Analysis.objects.filter(owner=user, name=DEMO_ANALYSIS).delete()
        analysis = Analysis.objects.create(
            owner=user,
            aoi=mt_aoi,
            label_set=mt_labels,
            start_year=2007,
            end_year=2013,
            name=DEMO_ANALYSIS,
            parameters={"year_start_month": 9},
        )
        analysis = run_inline(analysis.pk)
    lines.append(f"demo analysis #{analysis.pk}: {analysis.status} {analysis.error_message}".rstrip())
    return lines
