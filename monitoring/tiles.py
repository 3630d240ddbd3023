"""XYZ map tiles (256 x 256 PNG, Web Mercator) of the analysis COGs and of the ESD store (drawn by :mod:`ml.xyz`).

Colour maps never come from the request: a product's tile is coloured by the named map stored on the
product (``MapProduct.colormap``, built by :func:`ml.colormaps.named_colormap` with the label set's colours
and the analysis years). Pixels that are nodata (or masked) are transparent. A tile that does not touch
the raster raises :class:`TileNotFound` (the API answers 404).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import morecantile
import numpy as np
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from rasterio.crs import CRS

from ml.colormaps import ColorMap, named_colormap
from ml.errors import MLError, NoCoverageError
from ml.esd.preview import preview_store
from ml.xyz import XyzData, colour_values, encode_png, read_xyz, rescale
from monitoring.errors import ApplicationError
from monitoring.models import Analysis, MapProduct
from monitoring.selectors.esd_catalog import esd_store_for_area, esd_tiles_for_area
from monitoring.storage.paths import media_file

TILE_SIZE: Final[int] = 256  # pixels per tile side
MAX_ZOOM: Final[int] = 24  # deeper tiles are refused (404)
PREVIEW_MIN_ZOOM: Final[int] = 6  # the store preview reads the tiles themselves: not below this zoom
PREVIEW_MAX_PIXEL_YEARS: Final[int] = 4 * TILE_SIZE * TILE_SIZE  # one year of one (buffered) tile
WEB_MERCATOR: Final = morecantile.tms.get("WebMercatorQuad")
MERCATOR_CRS: Final[CRS] = CRS.from_epsg(3857)
PREVIEW_COPIES: Final[str] = "esd_preview"  # folder under MEDIA_ROOT of the coarse copies of store tiles
RENDER_VERSION: Final[str] = "3"  # part of every ETag: bump when the rendering changes
VALUE_RESCALE: Final[dict[str, tuple[float, float]]] = {
    "similarity": (0.0, 1.0),
    "uncertainty": (0.0, 1.0),
}  # float maps -> 0..255

log = logging.getLogger(__name__)


class TileNotFound(ApplicationError):
    """No data for this tile (outside the raster, zoom out of range, no store tile): HTTP 404."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


@dataclass(frozen=True)
class TileStyle:
    """How a single-band raster becomes colours: a colour map, and the value range mapped to 0..255."""

    colormap: ColorMap | None  # value -> RGBA; None for RGB(A) rasters
    rescale: tuple[float, float] | None = None  # (min, max) mapped linearly to 0..255 before the map
    indexes: tuple[int, ...] = (1,)  # bands read from the COG


def check_tile(z: int, x: int, y: int) -> None:
    """Raise :class:`TileNotFound` unless ``(z, x, y)`` is a valid XYZ tile with ``z <= MAX_ZOOM``."""
    if not 0 <= z <= MAX_ZOOM or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise TileNotFound(f"tile {z}/{x}/{y} does not exist (zoom 0..{MAX_ZOOM})")


def product_style(product: MapProduct) -> TileStyle:
    """The colours of ``product``: its named colour map with the label set's colours and the analysis years."""
    if product.colormap == "rgb":
        return TileStyle(colormap=None, indexes=(1, 2, 3))
    analysis: Analysis = product.analysis
    classes = analysis.label_set.map_classes
    years = analysis.years
    if product.colormap == "years" and len(years) > 1:
        years = years[1:]  # the first year is never a change year: same ramp as ml.colormaps.legend("years")
    try:
        cmap = named_colormap(
            product.colormap,
            colors=[c["color"] for c in classes] or None,
            class_names=[c["name"] for c in classes] or None,
            years=years,
        )
    except MLError as exc:
        raise ApplicationError(f"product {product.pk} cannot be drawn: {exc}", status=500) from exc
    return TileStyle(colormap=cmap, rescale=VALUE_RESCALE.get(product.colormap))


def product_path(product: MapProduct) -> Path:
    """The product's COG on disk (inside MEDIA_ROOT); :class:`TileNotFound` when it is missing."""
    path = media_file(product.path)
    if path is None:
        raise TileNotFound(f"the file of map product {product.pk} is missing")
    return path


def file_etag(path: Path, *parts: object) -> str:
    """A strong ETag of a file's identity (size, mtime) plus ``parts`` (tile address, style)."""
    st = path.stat()
    text = "|".join(str(p) for p in (RENDER_VERSION, path, st.st_size, st.st_mtime_ns, *parts))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def product_etag(product: MapProduct, z: int, x: int, y: int, only: int | None = None) -> str:
    """ETag of one tile of ``product`` (changes when the COG is rewritten or the class colours change)."""
    colors = [c.get("color") for c in product.analysis.label_set.map_classes]
    return file_etag(
        product_path(product), product.colormap, colors, z, x, y, *(() if only is None else ("only", only))
    )


def read_tile(path: Path, z: int, x: int, y: int, indexes: tuple[int, ...] = (1,)) -> XyzData:
    """The values of the COG at ``path`` under tile ``(z, x, y)`` (nearest), ``TILE_SIZE`` square, with
    the pixels that hold data; :class:`TileNotFound` when the tile does not touch the raster."""
    check_tile(z, x, y)
    img = read_xyz(path, z, x, y, indexes)
    if img is None:
        raise TileNotFound(f"tile {z}/{x}/{y} is outside the raster")
    return img


def render(img: XyzData, style: TileStyle) -> bytes:
    """PNG bytes of ``img`` drawn with ``style``; pixels without data are transparent."""
    if style.colormap is None:  # an RGB raster
        rgba = np.concatenate([img.data[:3].astype(np.uint8), (img.valid * 255).astype(np.uint8)[None]])
        return png_rgba(rgba)
    values = img.data[0]
    valid = img.valid
    if style.rescale is not None:
        valid = valid & np.isfinite(values)
        values = rescale(values, style.rescale)
    return colour_values(values, valid, style.colormap)


def render_product_tile(product: MapProduct, z: int, x: int, y: int, only: int | None = None) -> bytes:
    """The PNG of tile ``(z, x, y)`` of a map product, in its server-side colours; ``only`` keeps one value
    of a class map coloured (e.g. one from-to transition) and makes every other one transparent."""
    style = product_style(product)
    if only is not None and style.colormap is not None:
        transparent = (0, 0, 0, 0)
        cmap = {k: (v if k == only else transparent) for k, v in style.colormap.items()}
        style = TileStyle(colormap=cmap, rescale=style.rescale, indexes=style.indexes)
    return render(read_tile(product_path(product), z, x, y, style.indexes), style)


def render_threshold_tile(path: Path, z: int, x: int, y: int, threshold: float, style: TileStyle) -> bytes:
    """PNG of a float COG tile with pixels below ``threshold`` (and nodata) transparent."""
    img = read_tile(path, z, x, y)
    data = img.data[0]
    with np.errstate(invalid="ignore"):
        shown = img.valid & np.isfinite(data) & (data >= threshold)
    return render(XyzData(img.data, shown), style)


def cached_tile(etag: str, draw: Callable[[], bytes]) -> bytes:
    """The PNG of the tile whose ETag is ``etag``: from the ``tiles`` cache, else ``draw()`` and stored.

    The ETag names the content (file identity, style, address), so an entry never goes stale. A tile
    with no data is remembered too (its :class:`TileNotFound` message), so clients panning outside a
    raster do not re-read it. A failing cache (Redis down, full disk) only costs the render.
    """
    key = "tile:" + etag.strip('"')
    try:
        cache = caches["tiles"]
        hit = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation; never fail a tile because of it
        log.warning("tile cache unavailable; rendering", exc_info=True)
        hit = cache = None
    if isinstance(hit, bytes):
        return hit
    if isinstance(hit, str):
        raise TileNotFound(hit)
    try:
        png = draw()
    except TileNotFound as exc:
        _store(cache, key, exc.message)
        raise
    _store(cache, key, png)
    return png


def _store(cache: BaseCache | None, key: str, value: bytes | str) -> None:
    if cache is None:
        return
    try:
        cache.set(key, value)
    except Exception:  # noqa: BLE001 - see cached_tile
        log.warning("tile cache unavailable; not stored", exc_info=True)


def tile_lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of an XYZ tile in degrees."""
    b = WEB_MERCATOR.bounds(morecantile.Tile(x, y, z))
    return (b.left, b.bottom, b.right, b.top)


def esd_preview_etag(year: int, z: int, x: int, y: int) -> str:
    """ETag of a store preview tile: changes when the catalog rows of that year under the tile change."""
    rows = (
        esd_tiles_for_area(area=tile_lonlat_bounds(z, x, y), years=[year])
        .order_by("uri")
        .values_list("uri", "fingerprint")
    )
    digest = hashlib.sha256(repr(list(rows)).encode()).hexdigest()[:16]
    return (
        '"'
        + hashlib.sha256(f"{RENDER_VERSION}|esd|{digest}|{year}|{z}|{x}|{y}".encode()).hexdigest()[:32]
        + '"'
    )


def render_esd_preview_tile(year: int, z: int, x: int, y: int) -> bytes:
    """PNG (RGBA) of the ESD store itself for ``year``: RGB = mean over months of code dims 0, 1, 2.

    Reads the catalog tiles that touch the XYZ tile, on the XYZ tile's own Web Mercator grid (nearest
    resampling of the FSQ indices; where the tile is 4x or more coarser than a store tile, from that
    tile's coarse copy, :func:`ml.esd.preview.coarse_copy`, written once under ``MEDIA_ROOT/esd_preview``:
    official tiles have no overviews), and draws :func:`ml.change.esd_preview_rgb`; pixels without data
    are transparent (a tile with none at all is wholly transparent, not missing: the browser, which asks
    for tiles touching a footprint, must not see errors). :class:`TileNotFound` when no store tile of
    ``year`` covers it, or below
    :data:`PREVIEW_MIN_ZOOM` (a low-zoom tile would read whole store tiles).
    """
    from ml.change import esd_preview_rgb

    check_tile(z, x, y)
    if z < PREVIEW_MIN_ZOOM:
        raise TileNotFound(f"the ESD preview starts at zoom {PREVIEW_MIN_ZOOM}; zoom in")
    store = esd_store_for_area(area=tile_lonlat_bounds(z, x, y), years=[year])
    if not store.tiles:
        raise TileNotFound(f"no ESD tile of {year} covers tile {z}/{x}/{y}")
    b = WEB_MERCATOR.xy_bounds(morecantile.Tile(x, y, z))
    res = (b.right - b.left) / TILE_SIZE
    try:
        store = preview_store(store, MERCATOR_CRS, res, Path(settings.MEDIA_ROOT) / PREVIEW_COPIES)
        window = store.read_window(
            (b.left, b.bottom, b.right, b.top),
            "EPSG:3857",
            [year],
            resolution=res,
            max_pixel_years=PREVIEW_MAX_PIXEL_YEARS,
        )
    except NoCoverageError:  # the lon/lat footprint touches the tile, the tile's own grid does not
        return png_rgba(np.zeros((4, TILE_SIZE, TILE_SIZE), dtype=np.uint8))
    except MLError as exc:
        raise TileNotFound(f"no ESD data of {year} in tile {z}/{x}/{y}: {exc}") from exc
    if not window.valid.any():  # inside a store tile's footprint but all nodata there: a transparent tile
        return png_rgba(np.zeros((4, TILE_SIZE, TILE_SIZE), dtype=np.uint8))
    rgba = esd_preview_rgb(window.embeddings[0], window.valid[0])[:, :TILE_SIZE, :TILE_SIZE]
    return png_rgba(rgba)


def from_to_etag(
    analysis: Analysis, path0: Path, path1: Path, z: int, x: int, y: int, only: int | None
) -> str:
    """ETag of a from-to tile computed from two land-cover COGs (changes with either file or the colours)."""
    colors = [c.get("color") for c in analysis.label_set.map_classes]
    st1 = path1.stat()
    return file_etag(path0, "from_to", path1, st1.st_size, st1.st_mtime_ns, colors, z, x, y, only)


def render_from_to_tile(
    analysis: Analysis, path0: Path, path1: Path, z: int, x: int, y: int, only: int | None = None
) -> bytes:
    """From -> to tile of any two years, computed from their land-cover COGs (code ``from * n + to + 1``,
    see :func:`ml.change.from_to`) and drawn with the ``from_to`` colour map: one colour per changed pair,
    unchanged grey; ``only`` keeps one code coloured. Lets the user choose the pair of years."""
    from ml.change import from_to
    from ml.mapping import NODATA_CLASS

    classes = analysis.label_set.map_classes
    img0, img1 = read_tile(path0, z, x, y), read_tile(path1, z, x, y)
    a = np.where(img0.valid, img0.data[0], NODATA_CLASS).astype(np.uint8)
    b = np.where(img1.valid, img1.data[0], NODATA_CLASS).astype(np.uint8)
    n = len(classes)
    a = np.where(a < n, a, NODATA_CLASS).astype(np.uint8)
    b = np.where(b < n, b, NODATA_CLASS).astype(np.uint8)
    code = from_to(a, b, n)
    try:
        cmap = named_colormap(
            "from_to", colors=[c["color"] for c in classes] or None, class_names=[c["name"] for c in classes]
        )
    except MLError as exc:
        raise ApplicationError(
            f"from-to of analysis {analysis.pk} cannot be drawn: {exc}", status=500
        ) from exc
    shown = {v: rgba for v, rgba in cmap.items() if 0 <= v <= n * n + 1 and (only is None or v == only)}
    return colour_values(code, np.ones(code.shape, dtype=bool), shown)


def png_rgba(rgba: np.ndarray) -> bytes:
    """PNG bytes of a ``(4, H, W)`` uint8 RGBA array."""
    return encode_png(np.ascontiguousarray(np.moveaxis(rgba, 0, -1)))
