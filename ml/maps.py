"""Map COG writers (class, value, RGB) and the named colour maps and legends the web map shares.

Every writer produces a Cloud Optimized GeoTIFF in the input CRS: internal tiles, DEFLATE, overviews,
written to a temporary file in the target folder and renamed, so a killed worker never leaves a
half-written file at the (deterministic) target path and a re-run simply replaces it.
"""

from __future__ import annotations

import colorsys
import contextlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile

from ml.change import NODATA_CLASS, NODATA_FROM_TO, from_to_legend
from ml.errors import ProductError
from ml.esd.tiles import overview_levels

RGBA = tuple[int, int, int, int]  # red, green, blue, alpha, each 0..255
ColorMap = dict[int, RGBA]  # raster value -> colour (rio-tiler / GDAL colour-table layout)

TRANSPARENT: Final[RGBA] = (0, 0, 0, 0)
PRODUCER: Final[str] = "esd-monitor ml.maps"
FILE_MODE: Final[int] = 0o644  # mkstemp makes 0600 files; published maps are world-readable

# Tableau 10, then the lighter halves of Tableau 20: the first colours never change as n grows.
TABLEAU_10: Final[tuple[str, ...]] = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
TABLEAU_20_LIGHT: Final[tuple[str, ...]] = (
    "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d",
    "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e",
)  # fmt: skip
CHANGE_COUNT_COLORS: Final[tuple[str, ...]] = (
    "#ffffff", "#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15",
)  # fmt: skip  # 0 (no change) white .. 5+ dark red (ColorBrewer Reds)
YEARS_STOPS: Final[tuple[str, ...]] = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")  # viridis
SIMILARITY_STOPS: Final[tuple[tuple[float, str], ...]] = (
    (0.0, "#a50026"),
    (0.2, "#f46d43"),  # the official ESD demo's change threshold
    (0.5, "#fee090"),
    (0.75, "#abd9e9"),
    (1.0, "#313695"),
)  # diverging: red = dissimilar (change), blue = same as the year before
UNCHANGED_COLOR: Final[str] = "#d9d9d9"  # from-to codes A -> A


# --- colours ----------------------------------------------------------------------------------------------


def hex_to_rgba(color: str, alpha: int = 255) -> RGBA:
    """``"#rrggbb"``, ``"#rgb"`` or ``"#rrggbbaa"`` (``#`` optional) to an RGBA tuple."""
    text = color.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    try:
        if len(text) == 6:
            return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16), int(alpha))
        if len(text) == 8:
            return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16), int(text[6:8], 16))
    except ValueError:
        pass
    raise ProductError(f"colour {color!r} is not a hex colour like '#4e79a7'")


def rgba_to_hex(rgba: Sequence[int]) -> str:
    """An RGBA tuple to ``"#rrggbb"`` (opaque) or ``"#rrggbbaa"``."""
    r, g, b = (int(v) for v in rgba[:3])
    a = int(rgba[3]) if len(rgba) > 3 else 255
    return f"#{r:02x}{g:02x}{b:02x}" + ("" if a == 255 else f"{a:02x}")


def _ramp(stops: Sequence[tuple[float, str]], n: int) -> list[RGBA]:
    """``n`` colours evenly spaced over the piecewise-linear RGB ramp ``(position 0..1, colour)``."""
    pos = np.asarray([p for p, _ in stops], dtype=np.float64)
    rgb = np.asarray([hex_to_rgba(c)[:3] for _, c in stops], dtype=np.float64)  # (stops, 3)
    t = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    chan = [np.interp(t, pos, rgb[:, k]) for k in range(3)]
    return [(int(round(r)), int(round(g)), int(round(b)), 255) for r, g, b in zip(*chan, strict=True)]


def default_class_colors(n: int) -> list[str]:
    """A categorical palette of ``n`` distinct hex colours for label sets that bring none.

    Tableau 10, then the light Tableau 20 tones, then golden-angle hues; colour ``i`` does not depend
    on ``n``, so adding a class never recolours the others.
    """
    if n < 0:
        raise ProductError(f"number of colours must be >= 0, got {n}")
    base = list(TABLEAU_10 + TABLEAU_20_LIGHT)
    out = base[:n]
    for i in range(len(out), n):
        hue = (i * 0.618033988749895) % 1.0
        light = 0.45 if i % 2 else 0.62
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.55)
        out.append(rgba_to_hex((round(r * 255), round(g * 255), round(b * 255), 255)))
    return out


# --- named colour maps --------------------------------------------------------------------------------------


def class_colormap(colors: Sequence[str]) -> ColorMap:
    """Class index ``i`` -> ``colors[i]`` (opaque), nodata 255 -> transparent."""
    if not 1 <= len(colors) <= NODATA_CLASS:
        raise ProductError(f"a class map needs 1..{NODATA_CLASS} colours, got {len(colors)}")
    cmap = {i: hex_to_rgba(c) for i, c in enumerate(colors)}
    cmap[NODATA_CLASS] = TRANSPARENT
    return cmap


def change_count_colormap(max_count: int = 5) -> ColorMap:
    """Number of changes (uint8): 0 white, 1 .. ``max_count`` and more light to dark red, 255 transparent."""
    if not 1 <= max_count < NODATA_CLASS:
        raise ProductError(f"max_count must lie in 1..{NODATA_CLASS - 1}, got {max_count}")
    ramp = [hex_to_rgba(c) for c in CHANGE_COUNT_COLORS]
    if max_count != len(ramp) - 1:
        ramp = [ramp[0]] + _ramp([(i / 4, c) for i, c in enumerate(CHANGE_COUNT_COLORS[1:])], max_count)
    cmap = {i: ramp[min(i, max_count)] for i in range(NODATA_CLASS)}
    cmap[NODATA_CLASS] = TRANSPARENT
    return cmap


def years_colormap(years: Sequence[int]) -> ColorMap:
    """Year of change (uint16 calendar years) -> sequential viridis ramp, early dark to late yellow.

    Keys are the calendar years themselves (the values stored in ``change_last_year.tif``), so the map
    applies as is (rio-tiler uses a discrete colour map for keys above 255); 0 (no change or nodata)
    is transparent.
    """
    yrs = sorted({int(y) for y in years})
    if not yrs:
        raise ProductError("years_colormap needs at least one year")
    stops = [(i / (len(YEARS_STOPS) - 1), c) for i, c in enumerate(YEARS_STOPS)]
    cmap: ColorMap = {0: TRANSPARENT}
    cmap.update(zip(yrs, _ramp(stops, len(yrs)), strict=True))
    return cmap


def similarity_colormap() -> ColorMap:
    """Cosine similarity rescaled from [0, 1] to 0..255 -> diverging red (change) .. blue (same).

    A float raster needs the rescale first (rio-tiler ``rescale=((0, 1),)``); negative similarities
    clip to 0 and NaN (nodata) stays transparent through the mask.
    """
    return dict(enumerate(_ramp(SIMILARITY_STOPS, 256)))


UNCERTAINTY_STOPS: Final[tuple[tuple[float, str], ...]] = (
    (0.0, "#ffffff"),
    (0.25, "#fdd49e"),
    (0.5, "#fc8d59"),
    (0.75, "#d7301f"),
    (1.0, "#7f0000"),
)  # white (sure) .. dark red (all classes equally likely)


def uncertainty_colormap() -> ColorMap:
    """Uncertainty (normalised entropy, float in [0, 1]) rescaled to 0..255 -> white (sure) .. dark red.

    Like similarity, the float raster needs the rescale first (rio-tiler ``rescale=((0, 1),)``); NaN
    (no data) stays transparent through the mask.
    """
    return dict(enumerate(_ramp(UNCERTAINTY_STOPS, 256)))


def from_to_colormap(colors: Sequence[str]) -> ColorMap:
    """From-to code -> the colour of the class changed *to*; unchanged codes light grey, 0 transparent."""
    n = len(colors)
    rgba = class_colormap(colors)  # checks the colours; rgba[j] is class j's colour
    grey = hex_to_rgba(UNCHANGED_COLOR)
    cmap: ColorMap = {NODATA_FROM_TO: TRANSPARENT}
    for i in range(n):
        for j in range(n):
            cmap[i * n + j + 1] = grey if i == j else rgba[j]
    return cmap


COLORMAPS: Final[dict[str, Callable[..., ColorMap]]] = {
    "landcover": class_colormap,  # (colors)
    "classes": class_colormap,  # alias of "landcover"
    "from_to": from_to_colormap,  # (colors)
    "change_count": change_count_colormap,  # ()
    "years": years_colormap,  # (years)
    "similarity": similarity_colormap,  # ()
    "uncertainty": uncertainty_colormap,  # ()
}
"""Builders of the named colour maps; :func:`named_colormap` calls them with the right arguments."""

PRODUCT_COLORMAPS: Final[dict[str, str]] = {
    "landcover": "landcover",  # landcover_{year}.tif
    "change": "from_to",  # change_{y0}_{y1}.tif
    "change_from_to": "from_to",  # same product, MapProduct kind
    "change_last_year": "years",
    "change_first_year": "years",
    "change_count": "change_count",
    "similarity": "similarity",  # similarity_{y0}_{y1}.tif
    "uncertainty": "uncertainty",  # uncertainty_{year}.tif
}
"""Product kind (file name without its years) -> name of the colour map that shows it."""


def named_colormap(
    name: str,
    *,
    colors: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
) -> ColorMap:
    """The colour map called ``name`` in :data:`COLORMAPS`.

    Class maps (``landcover``, ``from_to``) take ``colors`` or, without them, the
    :func:`default_class_colors` of ``class_names``; ``years`` needs ``years``.
    """
    if name not in COLORMAPS:
        raise ProductError(f"unknown colour map {name!r}; known: {sorted(COLORMAPS)}")
    if name in ("landcover", "classes", "from_to"):
        return COLORMAPS[name](_class_colors(name, colors, class_names))
    if name == "years":
        if not years:
            raise ProductError("colour map 'years' needs the analysis years")
        return years_colormap(years)
    return COLORMAPS[name]()


def _class_colors(name: str, colors: Sequence[str] | None, class_names: Sequence[str] | None) -> list[str]:
    if colors:
        if class_names is not None and len(class_names) != len(colors):
            raise ProductError(f"{name}: {len(class_names)} class names but {len(colors)} colours")
        return list(colors)
    if not class_names:
        raise ProductError(f"colour map {name!r} needs colors or class_names")
    return default_class_colors(len(class_names))


def legend(
    name: str,
    class_names: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    *,
    colors: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Legend entries ``{"value", "label", "color"}`` of the named colour map, in display order.

    ``color`` is ``"#rrggbb"`` (``"#rrggbbaa"`` when not opaque). ``landcover`` (alias ``classes``):
    one entry per class (needs ``class_names`` or ``colors``); ``from_to``: one per changed pair ``"A → B"`` (plus ``"No change"``);
    ``change_count``: 0 .. 5+; ``years``: one per change year (the first year cannot be a change
    year and is left out when more than one is given); ``similarity``: stops from 0 to 1, ``value``
    the similarity; ``uncertainty``: stops from 0 (sure) to 1 (all classes equally likely).
    """
    if name in ("landcover", "classes"):
        cols = _class_colors(name, colors, class_names)
        names = list(class_names) if class_names else [f"Class {i}" for i in range(len(cols))]
        return [
            {"value": i, "label": n, "color": rgba_to_hex(hex_to_rgba(cols[i]))} for i, n in enumerate(names)
        ]
    if name == "from_to":
        cols = _class_colors(name, colors, class_names)
        names = list(class_names) if class_names else [f"Class {i}" for i in range(len(cols))]
        cmap = from_to_colormap(cols)
        entries = [
            {"value": code, "label": label, "color": rgba_to_hex(cmap[code])}
            for code, label in from_to_legend(names, changed_only=True)
        ]
        return [*entries, {"value": None, "label": "No change", "color": UNCHANGED_COLOR}]
    if name == "change_count":
        cmap = change_count_colormap()
        labels = ["No change", "1 change", "2 changes", "3 changes", "4 changes", "5+ changes"]
        return [{"value": i, "label": lab, "color": rgba_to_hex(cmap[i])} for i, lab in enumerate(labels)]
    if name == "years":
        if not years:
            raise ProductError("legend 'years' needs the analysis years")
        yrs = sorted({int(y) for y in years})
        shown = yrs[1:] if len(yrs) > 1 else yrs
        cmap = years_colormap(shown)
        return [{"value": y, "label": str(y), "color": rgba_to_hex(cmap[y])} for y in shown]
    if name == "similarity":
        cmap = similarity_colormap()
        out = []
        for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
            label = f"{v:.1f}" + (" (change threshold)" if v == 0.2 else "")
            out.append({"value": v, "label": label, "color": rgba_to_hex(cmap[int(round(v * 255))])})
        return out
    if name == "uncertainty":
        cmap = uncertainty_colormap()
        labels = {0.0: "0 (one sure class)", 1.0: "1 (all classes equal)"}
        return [
            {"value": v, "label": labels.get(v, f"{v:.2f}"), "color": rgba_to_hex(cmap[int(round(v * 255))])}
            for v in (0.0, 0.25, 0.5, 0.75, 1.0)
        ]
    raise ProductError(f"unknown legend {name!r}; known: {sorted(COLORMAPS)}")


# --- writers ----------------------------------------------------------------------------------------------------


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
    resampling: str,
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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        with MemoryFile() as mem:
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
                    tmp,
                    cog,
                    in_memory=True,
                    quiet=True,
                    colormap=colormap,
                    overview_resampling=resampling,
                    overview_level=overview_levels(max(h, w), overview_min_size),
                    config={"GDAL_NUM_THREADS": "1", "GDAL_TIFF_OVR_BLOCKSIZE": str(blocksize)},
                    use_cog_driver=False,
                )
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
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
    overview_resampling: str = "nearest",
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
    overview_resampling: str = "average",
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
        return {int(k): tuple(int(c) for c in v) for k, v in src.colormap(1).items()}  # type: ignore[misc]


# --- reading back and whole-series products ------------------------------------------------------------------


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


def product_filename(kind: str, year: int | None = None, year_to: int | None = None) -> str:
    """The deterministic file name of a product in an analysis folder (see DESIGN.md, outputs).

    ``landcover`` / ``esd_preview`` take ``year``; ``change`` (from-to) and ``similarity`` take
    ``year`` and ``year_to``; ``change_last_year``, ``change_first_year``, ``change_count`` none.
    """
    if kind in ("landcover", "esd_preview") and year is not None:
        return f"{kind}_{year}.tif"
    if kind in ("change", "similarity") and year is not None and year_to is not None:
        return f"{kind}_{year}_{year_to}.tif"
    if kind in ("change_last_year", "change_first_year", "change_count"):
        return f"{kind}.tif"
    raise ProductError(f"unknown product {kind!r} for years ({year}, {year_to})")


def write_change_products(
    folder: str | Path,
    classes: np.ndarray,
    years: Sequence[int],
    crs: Any,
    transform: Affine | Sequence[float],
    n_classes: int,
    *,
    similarity: np.ndarray | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    blocksize: int = 256,
    overview_min_size: int = 256,
) -> dict[str, Path]:
    """Write the change COGs of a class-map series into ``folder``; return ``{file name: path}``.

    ``classes`` ``(Y, H, W)`` uint8 (255 nodata) for ``years``. Writes ``change_last_year.tif``,
    ``change_first_year.tif`` (uint16 years, 0 = none), ``change_count.tif`` (uint8, 255 = not
    observed, with the ``change_count`` colour table), ``change_{y0}_{y1}.tif`` (from-to codes) for each
    of ``pairs`` (default: consecutive years, plus first -> last when there are more than two), and
    ``similarity_{y0}_{y1}.tif`` for each slice of ``similarity`` ``(Y - 1, H, W)`` when given.
    """
    from ml.change import change_maps, from_to

    yrs = tuple(int(y) for y in years)
    maps = change_maps(classes, yrs)
    out = Path(folder)
    grid = {"blocksize": blocksize, "overview_min_size": overview_min_size}
    written: dict[str, Path] = {}
    for kind, values in (
        ("change_last_year", maps.last_change_year),
        ("change_first_year", maps.first_change_year),
    ):
        name = product_filename(kind)
        written[name] = write_value_cog(
            out / name, values, crs, transform, 0, description=f"{kind} (0 = none)", **grid
        )
    name = product_filename("change_count")
    written[name] = write_value_cog(
        out / name, maps.change_count, crs, transform, 255, colormap=change_count_colormap(), **grid
    )
    if pairs is None:
        pairs = list(zip(yrs, yrs[1:], strict=False))
        if len(yrs) > 2:
            pairs.append((yrs[0], yrs[-1]))
    for y0, y1 in pairs:
        if y0 not in yrs or y1 not in yrs:
            raise ProductError(f"change pair ({y0}, {y1}) is not in the years {yrs}")
        code = from_to(classes[yrs.index(y0)], classes[yrs.index(y1)], n_classes)
        name = product_filename("change", y0, y1)
        written[name] = write_value_cog(
            out / name, code, crs, transform, 0, description="from * n + to + 1", **grid
        )
    if similarity is not None:
        sim = np.asarray(similarity)
        if sim.shape != (len(yrs) - 1, *maps.observed.shape):
            raise ProductError(
                f"similarity must have shape {(len(yrs) - 1, *maps.observed.shape)}, got {sim.shape}"
            )
        for i in range(len(yrs) - 1):
            name = product_filename("similarity", yrs[i], yrs[i + 1])
            written[name] = write_value_cog(
                out / name,
                sim[i].astype(np.float32),
                crs,
                transform,
                float("nan"),
                overview_resampling="average",
                **grid,
            )
    return written


# --- CLI -----------------------------------------------------------------------------------------------------------


def _year_of(path: Path) -> int:
    digits = [part for part in path.stem.replace("-", "_").split("_") if part.isdigit() and len(part) == 4]
    if not digits:
        raise ProductError(f"{path.name}: no year in the file name (expected e.g. landcover_2012.tif)")
    return int(digits[-1])


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ml.maps``: legends of the named colour maps, change products of class-map COGs."""
    import argparse

    from ml.change import change_statistics, pixel_area_ha

    parser = argparse.ArgumentParser(prog="python -m ml.maps", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    leg = sub.add_parser("legend", help="print the legend of a named colour map as JSON")
    leg.add_argument("name", choices=sorted(COLORMAPS))
    leg.add_argument("--classes", default="", help="comma-separated class names (landcover, from_to)")
    leg.add_argument("--years", default="", help="comma-separated years (years)")
    chg = sub.add_parser(
        "change",
        help="write change_*.tif and stats.json from landcover_{year}.tif COGs; print a JSON summary",
    )
    chg.add_argument("landcover", nargs="+", type=Path, help="class-map COGs, the year in each file name")
    chg.add_argument("--out", type=Path, required=True, help="output folder")
    chg.add_argument("--blocksize", type=int, default=256, help="internal tile size (multiple of 16)")
    args = parser.parse_args(argv)

    if args.command == "legend":
        names = [n for n in args.classes.split(",") if n] or None
        years = [int(y) for y in args.years.split(",") if y] or None
        print(json.dumps(legend(args.name, names, years), ensure_ascii=False, indent=2))
        return 0

    files = sorted(args.landcover, key=_year_of)
    maps = [read_class_cog(f) for f in files]
    first = maps[0]
    for f, m in zip(files, maps, strict=True):
        if (
            m.classes.shape != first.classes.shape
            or m.crs != first.crs
            or not m.transform.almost_equals(first.transform)
        ):
            raise ProductError(f"{f.name}: grid differs from {files[0].name}")
    years = [_year_of(f) for f in files]
    classes = np.stack([m.classes for m in maps])
    names = first.class_names or [f"class_{i}" for i in range(len(first.colors))]
    area = pixel_area_ha(first.transform, first.crs, *classes.shape[1:])
    written = write_change_products(
        args.out,
        classes,
        years,
        first.crs,
        first.transform,
        len(names),
        blocksize=args.blocksize,
        overview_min_size=args.blocksize,
    )
    stats = change_statistics(classes, years, area, names)
    args.out.mkdir(parents=True, exist_ok=True)
    _write_text_atomic(args.out / "stats.json", json.dumps(stats, ensure_ascii=False, indent=2))
    summary = {
        "written": sorted(written),
        "years": years,
        "total_ha": stats["total_ha"],
        "changed_ha_any": stats["changed_ha_any"],
        "pixel_ha_mean": round(float(area.mean()), 4),
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
