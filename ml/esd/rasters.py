"""Readers for the georeferenced image time series in ``../shared/data/rasters`` (one value object each).

Every reader returns a :class:`RasterSeries`: observations ``(T, H, W, B)`` in physical units
(reflectance 0-1 or an index), a per-observation clear mask, dates, CRS and transform. Supported:
a folder of dated GeoTIFFs (MODIS Mato Grosso), the Colorado Landsat scenes with Fmask, the Slovenia
Sentinel-2 NDVI ``.npy`` + cloud mask + bbox, and a multi-band stack with a dates file (Sinop).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from ml.errors import CompositeError
from ml.esd.composite import fmask_clear


def shared_data_dir() -> Path:
    """``$ESD_SHARED_DATA`` or ``<repo>/../shared/data`` (read-only real data)."""
    env = os.environ.get("ESD_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@dataclass(frozen=True)
class RasterSeries:
    """An image time series on one grid."""

    values: np.ndarray  # (T, H, W, B) float32 physical values (reflectance 0-1 or index); NaN = nodata
    clear: np.ndarray  # (T, H, W) bool: observation usable (not nodata, cloud, shadow, snow)
    dates: np.ndarray  # (T,) datetime64[D] acquisition (or composite) dates, ascending
    bands: tuple[str, ...]  # (B,) lower-case band names
    crs: CRS  # grid CRS
    transform: Affine  # grid affine transform (pixel corner)
    name: str  # short data set name

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the grid."""
        return int(self.values.shape[1]), int(self.values.shape[2])

    @property
    def years(self) -> list[int]:
        """Calendar years with at least one observation."""
        return sorted({int(y) for y in self.dates.astype("datetime64[Y]").astype(int) + 1970})

    def pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """(values (H*W, T, B), clear (H*W, T)): pixel-major view for compositing, row-major order."""
        t, h, w, b = self.values.shape
        return (
            self.values.transpose(1, 2, 0, 3).reshape(h * w, t, b),
            self.clear.transpose(1, 2, 0).reshape(h * w, t),
        )


def _yyyydoy(text: str) -> np.datetime64:
    d = datetime(int(text[:4]), 1, 1) + timedelta(days=int(text[4:7]) - 1)
    return np.datetime64(d.date(), "D")


def _read_dates_file(path: Path) -> np.ndarray:
    lines = [ln.strip().split(",")[0] for ln in path.read_text().splitlines() if ln.strip()]
    return np.array([ln for ln in lines if re.match(r"\d{4}-\d{2}-\d{2}", ln)], dtype="datetime64[D]")


def read_dated_folder(
    folder: str | Path,
    band_names: tuple[str, ...],
    keep: tuple[str, ...],
    scale: float = 1.0,
    pattern: str = r"A(\d{7})",
    name: str = "",
) -> RasterSeries:
    """A folder of single-date multi-band GeoTIFFs whose names hold the date as ``YYYYDOY``.

    ``band_names`` names the bands of each file in order; ``keep`` selects the ones returned.
    Values are multiplied by ``scale``; the file nodata and non-finite values become NaN (not clear).
    """
    files = sorted(Path(folder).glob("*.tif"))
    if not files:
        raise CompositeError(f"{folder}: no .tif files")
    idx = [band_names.index(b) + 1 for b in keep]
    dates, arrays = [], []
    crs: Any = None  # from the first file read
    transform: Any = None
    for f in files:
        m = re.search(pattern, f.name)
        if m is None:
            raise CompositeError(f"{f}: no YYYYDOY date matching {pattern!r} in the name")
        with rasterio.open(f) as src:
            a = src.read(idx).astype(np.float64)  # (B, H, W)
            if src.nodata is not None:
                a[a == src.nodata] = np.nan
            crs, transform = src.crs, src.transform
        a[(a < -1e30) | (a > 1e30)] = np.nan
        dates.append(_yyyydoy(m.group(1)))
        arrays.append(np.moveaxis(a * scale, 0, -1).astype(np.float32))
    values = np.stack(arrays)
    order = np.argsort(np.array(dates))
    values = values[order]
    return RasterSeries(
        values=values,
        clear=np.isfinite(values).all(axis=-1),
        dates=np.array(dates, dtype="datetime64[D]")[order],
        bands=tuple(keep),
        crs=crs,
        transform=transform,
        name=name or Path(folder).name,
    )


def read_stack(
    path: str | Path, dates_file: str | Path, band: str, scale: float = 1.0, name: str = ""
) -> RasterSeries:
    """A multi-band GeoTIFF with one band per date (dates one per line in ``dates_file``)."""
    with rasterio.open(path) as src:
        a = src.read().astype(np.float64)  # (T, H, W)
        if src.nodata is not None:
            a[a == src.nodata] = np.nan
        crs, transform = src.crs, src.transform
    a[(a < -1e30) | (a > 1e30)] = np.nan
    dates = _read_dates_file(Path(dates_file))
    if len(dates) != a.shape[0]:
        raise CompositeError(f"{path}: {a.shape[0]} bands but {len(dates)} dates in {dates_file}")
    values = (a * scale).astype(np.float32)[..., None]
    return RasterSeries(
        values, np.isfinite(values[..., 0]), dates, (band,), crs, transform, name or Path(path).stem
    )


def read_colorado_scenes(folder: str | Path, name: str = "colorado") -> RasterSeries:
    """Landsat scene folders (name chars 10-16 = YYYYDOY) with ``_b3`` red, ``_b4`` NIR, ``_b5`` SWIR1, ``_fmask``.

    Reflectance is int16 x 10000 (nodata -9999); clear = Fmask 0 (land) or 1 (water) and valid values.
    """
    scenes = sorted(p for p in Path(folder).iterdir() if p.is_dir())
    if not scenes:
        raise CompositeError(f"{folder}: no scene folders")
    dates, values, clear = [], [], []
    crs: Any = None  # from the first file read
    transform: Any = None
    for s in scenes:
        bands = []
        for suffix in ("b3", "b4", "b5"):
            with rasterio.open(s / f"{s.name}_{suffix}.tif") as src:
                a = src.read(1).astype(np.float32)
                a[a == -9999] = np.nan
                bands.append(a / 10000.0)
                crs, transform = src.crs, src.transform
        with rasterio.open(s / f"{s.name}_fmask.tif") as src:
            fm = src.read(1)
        v = np.stack(bands, axis=-1)
        dates.append(_yyyydoy(s.name[9:16]))
        values.append(v)
        clear.append(fmask_clear(fm) & np.isfinite(v).all(axis=-1))
    order = np.argsort(np.array(dates))
    return RasterSeries(
        values=np.stack(values)[order],
        clear=np.stack(clear)[order],
        dates=np.array(dates, dtype="datetime64[D]")[order],
        bands=("red", "nir", "swir1"),
        crs=crs,
        transform=transform,
        name=name,
    )


def read_slovenia(folder: str | Path, name: str = "slovenia") -> RasterSeries:
    """eo-learn Slovenia patch: ``data_NDVI.npy (T, H, W, 1)``, ``mask_CLM.npy`` (1 = cloud), bbox, timestamps."""
    f = Path(folder)
    ndvi = np.load(f / "data_NDVI.npy").astype(np.float32)
    cloud = np.load(f / "mask_CLM.npy")[..., 0].astype(bool)
    stamps = json.loads((f / "timestamps.json").read_text())
    bbox = json.loads((f / "bbox.geojson").read_text())
    xs = [p[0] for p in bbox["coordinates"][0]]
    ys = [p[1] for p in bbox["coordinates"][0]]
    _, h, w, _ = ndvi.shape
    transform = Affine((max(xs) - min(xs)) / w, 0.0, min(xs), 0.0, -(max(ys) - min(ys)) / h, max(ys))
    epsg = bbox["crs"]["properties"]["name"].rsplit(":", 1)[-1]
    dates = np.array([s[:10] for s in stamps], dtype="datetime64[D]")
    return RasterSeries(
        ndvi, ~cloud & np.isfinite(ndvi[..., 0]), dates, ("ndvi",), CRS.from_epsg(int(epsg)), transform, name
    )


def read_scene_stack_tar(path: str | Path, name: str = "colorado-stack") -> RasterSeries:
    """yatsm test stack: a ``.tar.gz`` of ``<scene>/<scene>_stack.gtif`` (8 int16 bands: blue, green, red,
    NIR, SWIR1, SWIR2 x 10000, thermal, Fmask), read in memory. Scene names hold ``YYYYDOY`` at 10-16.
    """
    import tarfile

    from rasterio.io import MemoryFile

    dates, values, clear = [], [], []
    crs: Any = None  # from the first file read
    transform: Any = None
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if not member.name.endswith("_stack.gtif"):
                continue
            scene = Path(member.name).name[: -len("_stack.gtif")]
            data = tar.extractfile(member)
            if data is None:
                continue
            with MemoryFile(data.read()) as mem, mem.open() as src:
                a = src.read().astype(np.float32)  # (8, H, W)
                crs, transform = src.crs, src.transform
            refl = np.moveaxis(a[:6], 0, -1)
            refl[refl <= -9999] = np.nan
            dates.append(_yyyydoy(scene[9:16]))
            values.append(refl / 10000.0)
            clear.append(fmask_clear(a[7]) & np.isfinite(refl).all(axis=-1))
    if not dates:
        raise CompositeError(f"{path}: no *_stack.gtif scenes")
    order = np.argsort(np.array(dates))
    return RasterSeries(
        values=np.stack(values)[order],
        clear=np.stack(clear)[order],
        dates=np.array(dates, dtype="datetime64[D]")[order],
        bands=LANDSAT6,
        crs=crs,
        transform=transform,
        name=name,
    )


LANDSAT6: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")


@dataclass(frozen=True)
class PixelSeries:
    """All Landsat observations of one pixel (LCMAP / pyccd test pixels)."""

    values: np.ndarray  # (T, 6) float32 reflectance 0-1: blue, green, red, nir, swir1, swir2
    clear: np.ndarray  # (T,) bool clear observations (QA / Fmask)
    dates: np.ndarray  # (T,) datetime64[D]
    name: str  # file stem


def read_pixel_series(path: str | Path) -> PixelSeries:
    """An LCMAP pyccd pixel: ``.npy`` (ARD bit-packed QA, ordinal dates) or ``.csv`` (Fmask, ordinal or
    Julian-day dates; rows ``date, blue, green, red, nir, swir1, swir2, thermal, qa``)."""
    from ml.esd.composite import ard_qa_clear

    p = Path(path)
    if p.suffix == ".npy":
        # pyccd's own test-pixel format (LCMAP's third-party fixtures, not files we write): a pickled
        # object array [meta, {band: values}] that cannot be read without pickle; only trusted files
        d = np.load(p, allow_pickle=True)[1]
        ordinal = np.asarray(d["dates"], dtype=np.int64)
        values = np.stack(
            [np.asarray(d[b], np.float32) for b in ("blues", "greens", "reds", "nirs", "swir1s", "swir2s")],
            -1,
        )
        clear = ard_qa_clear(np.asarray(d["qas"]))
    else:
        rows = np.loadtxt(p, delimiter=",")
        ordinal = rows[:, 0].astype(np.int64)
        ordinal = np.where(ordinal > 1_000_000, ordinal - 1721425, ordinal)  # Julian day -> ordinal
        values = rows[:, 1:7].astype(np.float32)
        clear = fmask_clear(rows[:, 8].astype(np.int64))
    dates = (ordinal - 719163).astype("datetime64[D]")  # 719163 = date(1970, 1, 1).toordinal()
    order = np.argsort(dates)
    return PixelSeries(values[order] / 10000.0, clear[order], dates[order], p.stem)


def _mt_dtwsat(root: Path) -> RasterSeries:
    return read_dated_folder(
        root / "rasters/modis_matogrosso_dtwsat/lucc_MT_2007_2013",
        band_names=("ndvi", "evi", "red", "nir", "mir", "blue", "doy"),
        keep=("blue", "red", "nir", "mir"),
        name="mt-dtwsat",
    )


def _colorado(root: Path) -> RasterSeries:
    return read_colorado_scenes(root / "rasters/landsat_colorado_p035r032/lsts_61x61_2008_2013")


def _colorado_stack(root: Path) -> RasterSeries:
    return read_scene_stack_tar(root / "rasters/landsat_colorado_p035r032/stack_5x5_1984_2013.tar.gz")


def _slovenia(root: Path) -> RasterSeries:
    return read_slovenia(root / "rasters/eolearn_slovenia")


def _sinop(root: Path) -> RasterSeries:
    d = root / "rasters/sinop_modis"
    return read_stack(
        d / "sinop-crop-ndvi_2000-2017_392bands.tif", d / "timeline-2000-2017.csv", "ndvi", 1e-4, "sinop"
    )


# The shared raster stacks by name: reader, calendar years to encode, year start month, ESD tile id.
@dataclass(frozen=True)
class DemoSource:
    """One demo raster data set and how it becomes ESD tiles."""

    read: Callable[[Path], RasterSeries]  # reader given the shared data root
    years: tuple[int, ...]  # tile years to encode
    start_month: int  # 1: calendar years; 9: crop years Sep->Aug named by their end year
    tile_id: str  # tile id in the ESD file name


DEMO_SOURCES: dict[str, DemoSource] = {
    "mt-dtwsat": DemoSource(_mt_dtwsat, tuple(range(2007, 2014)), 9, "MT-DTWSAT"),
    "colorado": DemoSource(_colorado, tuple(range(2008, 2013)), 1, "CO-P035R032"),
    "slovenia": DemoSource(_slovenia, (2016, 2017), 1, "SI-EOLEARN"),
    "sinop": DemoSource(_sinop, tuple(range(2000, 2017)), 1, "MT-SINOP"),
    # 6-band training source (5 x 5 px, 30 years); not one of the default demo stores
    "colorado-stack": DemoSource(_colorado_stack, tuple(range(1984, 2014)), 1, "CO-P035R032-STACK"),
}
DEMO_STORES: tuple[str, ...] = ("mt-dtwsat", "colorado", "slovenia", "sinop")  # built by ``encode demo``


def read_demo(name: str, root: Path | None = None) -> RasterSeries:
    """Read one of :data:`DEMO_SOURCES` from the shared data folder."""
    if name not in DEMO_SOURCES:
        raise CompositeError(f"unknown raster source {name!r}; known: {sorted(DEMO_SOURCES)}")
    return DEMO_SOURCES[name].read(root or shared_data_dir())
