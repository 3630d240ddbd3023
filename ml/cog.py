"""Cloud Optimized GeoTIFF writers (class, value, RGB) and readers of the class maps they write.

Every writer produces a COG in the input CRS: internal tiles, DEFLATE, overviews, written through
:func:`ml.atomic.atomic_path` (temp file + rename), so a killed worker never leaves a half-written
file at the (deterministic) target path and a re-run simply replaces it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile

from ml.atomic import atomic_path
from ml.change import NODATA_CLASS
from ml.colormaps import RGBA, TRANSPARENT, ColorMap, class_colormap, rgba_to_hex
from ml.errors import ProductError
from ml.esd.tiles import overview_levels

PRODUCER: Final[str] = "esd-monitor ml.maps"

# what rio-cogeo accepts for overview_resampling
OverviewResampling = Literal[
    "nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode", "gauss", "rms"
]


def _grid(crs: Any, transform: Affine | Sequence[float], path: Path) -> tuple[CRS, Affine]:
    try:
        crs_obj = CRS.from_user_input(crs)
    except Exception as exc:
        raise ProductError(f"{path.name}: bad CRS {crs!r} ({exc})") from exc
    affine = transform if isinstance(transform, Affine) else Affine(*tuple(transform)[:6])
    return crs_obj, affine


def _write_cog(
    path: str | Path,
    data: np.ndarray,
    crs: Any,
    transform: Affine | Sequence[float],
    *,
    nodata: float | None,
    resampling: OverviewResampling,
    predictor: int,
    colormap: ColorMap | None = None,
    colorinterp: Sequence[ColorInterp] | None = None,
    descriptions: Sequence[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    blocksize: int = 256,
    overview_min_size: int = 256,
) -> Path:
    """Write ``data`` ``(bands, H, W)`` as a COG at ``path`` atomically (temp file + rename)."""
    from rio_cogeo.cogeo import cog_translate

    target = Path(path)
    if blocksize < 16 or blocksize % 16:
        raise ProductError(f"{target.name}: blocksize {blocksize} must be a positive multiple of 16")
    crs_obj, affine = _grid(crs, transform, target)
    count, h, w = data.shape
    if h < 1 or w < 1:
        raise ProductError(f"{target.name}: empty raster {data.shape}")
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": count,
        "dtype": data.dtype.name,
        "crs": crs_obj,
        "transform": affine,
        "nodata": nodata,
    }
    cog = {
        "driver": "GTiff",
        "interleave": "pixel",
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "compress": "DEFLATE",
        "predictor": predictor,
    }
    all_tags = {"PRODUCER": PRODUCER}
    for key, value in (tags or {}).items():
        all_tags[str(key)] = value if isinstance(value, str) else json.dumps(value)
    with atomic_path(target) as tmp, MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data)
            dst.update_tags(**all_tags)
            if colorinterp is not None:
                dst.colorinterp = list(colorinterp)
            for b, text in enumerate(descriptions or (), start=1):
                dst.set_band_description(b, text)
        with mem.open() as src, warnings.catch_warnings():
            # rio-cogeo announces that a colour table makes band 1 a palette band: that is the intent
            warnings.filterwarnings("ignore", message="Dataset color interpretation was set to")
            cog_translate(
                src,
                str(tmp),
                cog,
                in_memory=True,
                quiet=True,
                colormap=colormap,
                overview_resampling=resampling,
                overview_level=overview_levels(max(h, w), overview_min_size),
                config={"GDAL_NUM_THREADS": "1", "GDAL_TIFF_OVR_BLOCKSIZE": str(blocksize)},
                use_cog_driver=False,
            )
    return target


def write_class_cog(
    path: str | Path,
    classes: np.ndarray,
    crs: Any,
    transform: Affine | Sequence[float],
    colors: Sequence[str],
    *,
    nodata: int = NODATA_CLASS,
    class_names: Sequence[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    blocksize: int = 256,
    overview_min_size: int = 256,
) -> Path:
    """Write a class map ``(H, W)`` uint8 as a COG with an embedded colour table; return its path.

    ``classes`` holds indices ``0 .. len(colors) - 1`` and ``nodata`` (transparent, also the GeoTIFF
    nodata value). ``crs`` anything rasterio accepts, ``transform`` the grid's affine: the file keeps
    the input CRS. Overviews by ``mode`` (the majority class), down to ``overview_min_size`` px.
    ``class_names`` are stored as the ``CLASS_NAMES`` tag (JSON list) next to ``CLASS_COLORS``.
    """
    target = Path(path)
    arr = np.asarray(classes)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ProductError(
            f"{target.name}: classes must be an integer (H, W) array, got {arr.dtype} {arr.shape}"
        )
    if not 0 <= nodata <= 255:
        raise ProductError(f"{target.name}: nodata {nodata} must fit uint8")
    if class_names is not None and len(class_names) != len(colors):
        raise ProductError(f"{target.name}: {len(class_names)} class names but {len(colors)} colours")
    cmap = class_colormap(colors)
    bad = (arr != nodata) & ((arr < 0) | (arr >= len(colors)))
    if bad.any():
        raise ProductError(
            f"{target.name}: class values {np.unique(arr[bad])[:5].tolist()} have no colour "
            f"({len(colors)} colours, nodata {nodata})"
        )
    if nodata != NODATA_CLASS:
        cmap.pop(NODATA_CLASS)
        cmap[nodata] = TRANSPARENT
    meta: dict[str, Any] = {"CLASS_COLORS": list(colors)}
    if class_names is not None:
        meta["CLASS_NAMES"] = list(class_names)
    meta.update(tags or {})
    return _write_cog(
        target,
        arr.astype(np.uint8)[None],
        crs,
        transform,
        nodata=nodata,
        resampling="mode",
        predictor=1,  # class indices are codes: differencing does not help
        colormap=cmap,
        descriptions=["class"],
        tags=meta,
        blocksize=blocksize,
        overview_min_size=overview_min_size,
    )


_VALUE_DTYPES: Final[tuple[str, ...]] = ("uint8", "uint16", "int16", "float32")


def write_value_cog(
    path: str | Path,
    values: np.ndarray,
    crs: Any,
    transform: Affine | Sequence[float],
    nodata: float | None,
    *,
    colormap: ColorMap | None = None,
    overview_resampling: OverviewResampling = "nearest",
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    blocksize: int = 256,
    overview_min_size: int = 256,
) -> Path:
    """Write one band of values ``(H, W)`` (similarity, change years, counts) as a COG; return its path.

    dtypes kept as given: uint8, uint16, int16, float32 (float16 and float64 are stored as float32). ``nodata``:
    e.g. NaN for similarity, 0 for change years, 255 for counts. ``colormap`` (uint8 only) is embedded
    as the GeoTIFF colour table; ``overview_resampling`` ``nearest`` for years and counts, ``average``
    suits similarity.
    """
    target = Path(path)
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise ProductError(f"{target.name}: values must have shape (H, W), got {arr.shape}")
    if arr.dtype in (np.float16, np.float64):
        arr = arr.astype(np.float32)
    if arr.dtype.name not in _VALUE_DTYPES:
        raise ProductError(f"{target.name}: dtype {arr.dtype} not supported; use one of {_VALUE_DTYPES}")
    if colormap is not None and arr.dtype != np.uint8:
        raise ProductError(f"{target.name}: a colour table needs uint8 values, got {arr.dtype}")
    if nodata is not None and arr.dtype.kind in "ui":
        info = np.iinfo(arr.dtype)
        if not (np.isfinite(nodata) and info.min <= nodata <= info.max and float(nodata).is_integer()):
            raise ProductError(f"{target.name}: nodata {nodata} does not fit {arr.dtype}")
    return _write_cog(
        target,
        arr[None],
        crs,
        transform,
        nodata=nodata,
        resampling=overview_resampling,
        predictor=3 if arr.dtype.kind == "f" else 2,
        colormap=colormap,
        descriptions=[description] if description else None,
        tags=tags,
        blocksize=blocksize,
        overview_min_size=overview_min_size,
    )


def write_rgb_cog(
    path: str | Path,
    rgb: np.ndarray,
    crs: Any,
    transform: Affine | Sequence[float],
    *,
    overview_resampling: OverviewResampling = "average",
    tags: Mapping[str, Any] | None = None,
    blocksize: int = 256,
    overview_min_size: int = 256,
) -> Path:
    """Write an RGB ``(3, H, W)`` or RGBA ``(4, H, W)`` uint8 image (the ESD preview) as a COG.

    A fourth band is written as the alpha band (0 = transparent), so viewers hide invalid pixels.
    """
    target = Path(path)
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[0] not in (3, 4) or arr.dtype != np.uint8:
        raise ProductError(f"{target.name}: rgb must be uint8 (3 or 4, H, W), got {arr.dtype} {arr.shape}")
    interp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    if arr.shape[0] == 4:
        interp.append(ColorInterp.alpha)
    return _write_cog(
        target,
        np.ascontiguousarray(arr),
        crs,
        transform,
        nodata=None,
        resampling=overview_resampling,
        predictor=2,
        colorinterp=interp,
        descriptions=["red", "green", "blue", "alpha"][: arr.shape[0]],
        tags=tags,
        blocksize=blocksize,
        overview_min_size=overview_min_size,
    )


def read_class_colormap(path: str | Path) -> ColorMap:
    """The colour table embedded in band 1 of a COG (``{value: (r, g, b, a)}``)."""
    with rasterio.open(path) as src:
        return {int(k): cast(RGBA, tuple(int(c) for c in v)) for k, v in src.colormap(1).items()}


@dataclass(frozen=True)
class ClassMap:
    """A class-map COG read back: classes, grid and the colours/names stored with it."""

    classes: np.ndarray  # (H, W) uint8 class indices, 255 = nodata
    crs: CRS  # the file's CRS
    transform: Affine  # the file's affine
    colors: list[str]  # "#rrggbb" per class (CLASS_COLORS tag, else the colour table)
    class_names: list[str] | None  # CLASS_NAMES tag when written


def read_class_cog(path: str | Path) -> ClassMap:
    """Read a class map written by :func:`write_class_cog` (or any single-band uint8 paletted GeoTIFF)."""
    target = Path(path)
    try:
        with rasterio.open(target) as src:
            if src.count != 1 or src.dtypes[0] != "uint8":
                raise ProductError(
                    f"{target.name}: a class map has one uint8 band, got {src.count} x {src.dtypes[0]}"
                )
            classes = src.read(1)
            tags = src.tags()
            try:
                table = src.colormap(1)
            except ValueError:
                table = {}
            crs, transform = src.crs, src.transform
    except rasterio.errors.RasterioIOError as exc:
        raise ProductError(f"{target}: cannot read ({exc})") from exc
    if "CLASS_COLORS" in tags:
        colors = list(json.loads(tags["CLASS_COLORS"]))
    else:
        n = int(classes[classes != NODATA_CLASS].max()) + 1 if (classes != NODATA_CLASS).any() else 0
        colors = [rgba_to_hex(table.get(i, (128, 128, 128, 255))[:3]) for i in range(n)]
    names = json.loads(tags["CLASS_NAMES"]) if "CLASS_NAMES" in tags else None
    return ClassMap(classes, crs, transform, colors, names)
