"""Change and transition products from per-year class maps and ESD embeddings (pure numpy + pyproj).

Conventions: a class map is ``uint8`` ``(H, W)`` (or ``(Y, H, W)`` for a series) holding class indices
``0 .. n_classes - 1`` and :data:`NODATA_CLASS` (255) where the pixel was not classified. Years are a
tuple of strictly increasing calendar years, one per map. Embeddings are decoded ESD codes
``(12, 6, H, W)`` float32 (12 monthly steps x 6 FSQ code dims, channel-first as
:func:`ml.esd.codec.decode_steps` returns them). Areas are in hectares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import LambertAzimuthalEqualAreaConversion

from ml.errors import ProductError

NODATA_CLASS: Final[int] = 255  # class index of unclassified pixels in every class map
NODATA_FROM_TO: Final[int] = 0  # from-to code of pixels that are nodata in either year
SIMILARITY_CHANGE_THRESHOLD: Final[float] = 0.2  # the official ESD demo flags cosine < 0.2 as change
MAX_CLASSES: Final[int] = 255  # class indices 0..254; 255 is nodata
_AREA_CHUNK_ROWS: Final[int] = 512  # rows of pixel corners projected at once in pixel_area_ha

Years = tuple[int, ...]  # strictly increasing calendar years, one per class map / embedding year


# --- checks ----------------------------------------------------------------------------------------


def _check_classes(classes: np.ndarray, n_classes: int | None, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(classes)
    if arr.ndim != ndim:
        axes = "(Y, H, W)" if ndim == 3 else "(H, W)"
        raise ProductError(f"{name} must have shape {axes}, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ProductError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    if n_classes is not None:
        _check_n_classes(n_classes)
        bad = ((arr >= n_classes) & (arr != NODATA_CLASS)) | (arr < 0)
        if bad.any():
            values = np.unique(arr[bad])[:5].tolist()
            raise ProductError(
                f"{name} holds class indices {values} outside 0..{n_classes - 1} (nodata is {NODATA_CLASS})"
            )
    elif arr.size and (arr.min() < 0 or arr.max() > NODATA_CLASS):
        raise ProductError(f"{name} must hold values in 0..{NODATA_CLASS}")
    return arr.astype(np.uint8, copy=False)


def _check_n_classes(n_classes: int) -> None:
    if not 1 <= int(n_classes) <= MAX_CLASSES:
        raise ProductError(f"n_classes must lie in 1..{MAX_CLASSES}, got {n_classes}")


def _check_years(years: Sequence[int], count: int, name: str = "years") -> Years:
    out = tuple(int(y) for y in years)
    if len(out) != count:
        raise ProductError(f"{name} has {len(out)} years but the maps have {count}")
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ProductError(f"{name} must be strictly increasing, got {out}")
    if out and not (out[0] >= 1 and out[-1] <= 65535):
        raise ProductError(f"{name} must lie in 1..65535 to fit a uint16 map, got {out}")
    return out


def _area_weights(pixel_area_ha: np.ndarray | float, shape: tuple[int, int]) -> np.ndarray:
    area = np.asarray(pixel_area_ha, dtype=np.float64)
    if area.ndim == 0:
        return np.full(shape, float(area))
    if area.shape != shape:
        raise ProductError(f"pixel_area_ha must be a scalar or have shape {shape}, got {area.shape}")
    if not np.isfinite(area).all():
        raise ProductError("pixel_area_ha holds non-finite values")
    return area


# --- similarity of embeddings ------------------------------------------------------------------------


def _check_embedding(emb: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(emb, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[:2] != (12, 6):
        raise ProductError(f"{name} must have shape (12, 6, H, W), got {arr.shape}")
    return arr


def cosine_similarity(a: np.ndarray, b: np.ndarray, valid_a: np.ndarray, valid_b: np.ndarray) -> np.ndarray:
    """Per-pixel cosine similarity of two years' embeddings, ``(H, W)`` float32 in [-1, 1].

    ``a``, ``b``: ``(12, 6, H, W)`` codes, read as one 72-dim vector per pixel; ``valid_a``,
    ``valid_b``: ``(H, W)`` bool. NaN where either year is invalid or either vector is all zero (or
    holds NaN). Values near 1 mean the pixel's year looks the same; the official ESD demo flags
    ``< 0.2`` (:data:`SIMILARITY_CHANGE_THRESHOLD`) as change.
    """
    ea, eb = _check_embedding(a, "a"), _check_embedding(b, "b")
    if ea.shape != eb.shape:
        raise ProductError(f"a {ea.shape} and b {eb.shape} must have the same shape")
    h, w = ea.shape[2:]
    va, vb = np.asarray(valid_a, dtype=bool), np.asarray(valid_b, dtype=bool)
    if va.shape != (h, w) or vb.shape != (h, w):
        raise ProductError(f"valid_a {va.shape} and valid_b {vb.shape} must have shape {(h, w)}")
    fa = ea.reshape(72, h, w)  # (72, H, W): the 12 x 6 codes of a pixel as one vector
    fb = eb.reshape(72, h, w)
    # float32 sums (no float64 copy of the inputs): exact for FSQ codes, multiples of 1/4 or 1/2
    dot = np.einsum("khw,khw->hw", fa, fb).astype(np.float64)
    na = np.sqrt(np.einsum("khw,khw->hw", fa, fa).astype(np.float64))
    nb = np.sqrt(np.einsum("khw,khw->hw", fb, fb).astype(np.float64))
    ok = va & vb & (na > 0) & (nb > 0) & np.isfinite(dot)
    out = np.full((h, w), np.nan, dtype=np.float32)
    out[ok] = np.clip(dot[ok] / (na[ok] * nb[ok]), -1.0, 1.0)
    return out


def consecutive_similarity(embeddings: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Cosine similarity of each year with the previous one, ``(Y - 1, H, W)`` float32.

    ``embeddings``: ``(Y, 12, 6, H, W)``; ``valid``: ``(Y, H, W)`` bool. Slice ``i`` compares year
    ``i`` with year ``i + 1`` (the product ``similarity_{y_i}_{y_i+1}.tif``); NaN as in
    :func:`cosine_similarity`. One year gives an empty ``(0, H, W)`` array.
    """
    emb = np.asarray(embeddings)
    val = np.asarray(valid, dtype=bool)
    if emb.ndim != 5 or emb.shape[1:3] != (12, 6):
        raise ProductError(f"embeddings must have shape (Y, 12, 6, H, W), got {emb.shape}")
    y, h, w = emb.shape[0], emb.shape[3], emb.shape[4]
    if val.shape != (y, h, w):
        raise ProductError(f"valid must have shape {(y, h, w)}, got {val.shape}")
    out = np.empty((max(y - 1, 0), h, w), dtype=np.float32)
    for i in range(y - 1):
        out[i] = cosine_similarity(emb[i], emb[i + 1], val[i], val[i + 1])
    return out


# --- change maps ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeMaps:
    """Per-pixel change summary of a class-map series (the products ``change_*.tif``).

    A change at year ``years[i]`` (``i >= 1``) means ``classes[i] != classes[i - 1]`` with both years
    classified; pairs with a nodata year count as unobserved, not as change or stability.
    """

    years: Years  # calendar year of each class map
    changed: np.ndarray  # (Y - 1, H, W) bool: slice i is a change from years[i] to years[i + 1]
    observed: np.ndarray  # (H, W) bool: at least one consecutive pair with both years classified
    change_count: np.ndarray  # (H, W) uint8: number of changes; 255 where not observed
    first_change_year: np.ndarray  # (H, W) uint16: year of the first change; 0 = never changed or nodata
    last_change_year: np.ndarray  # (H, W) uint16: year of the last change; 0 = never changed or nodata

    @property
    def changed_fraction(self) -> float:
        """Fraction of observed pixels that changed at least once (NaN when none is observed)."""
        n = int(self.observed.sum())
        return float((self.last_change_year > 0).sum() / n) if n else float("nan")


CHANGE_COUNT_NODATA: Final[int] = 255  # change_count value of pixels with no observed pair of years
CHANGE_YEAR_NODATA: Final[int] = 0  # first/last change year of unchanged or unobserved pixels


def change_maps(classes: np.ndarray, years: Sequence[int]) -> ChangeMaps:
    """Year of first and last change and number of changes of a class-map series.

    ``classes``: ``(Y, H, W)`` class indices (255 = nodata); ``years``: the ``Y`` calendar years. The
    year of a change is the later year of the pair (the first year the new class is seen). With a
    single year nothing is observed: counts are all 255 and years all 0.
    """
    cls = _check_classes(classes, None, "classes", 3)
    yrs = _check_years(years, cls.shape[0])
    if len(yrs) - 1 > 254:
        raise ProductError(f"at most 255 years fit a uint8 change count, got {len(yrs)}")
    valid = cls != NODATA_CLASS
    y, h, w = cls.shape
    changed = np.zeros((max(y - 1, 0), h, w), dtype=bool)
    observed = np.zeros((h, w), dtype=bool)
    count = np.zeros((h, w), dtype=np.uint8)
    first = np.zeros((h, w), dtype=np.uint16)
    last = np.zeros((h, w), dtype=np.uint16)
    for i in range(1, y):  # one pass per pair of years, in place (a few x faster than axis-0 reductions)
        pair_valid = valid[i] & valid[i - 1]
        ch = np.not_equal(cls[i], cls[i - 1], out=changed[i - 1])
        ch &= pair_valid
        observed |= pair_valid
        count += ch
        np.copyto(last, np.uint16(yrs[i]), where=ch)
        np.copyto(first, np.uint16(yrs[i]), where=ch & (first == 0))
    count[~observed] = CHANGE_COUNT_NODATA
    return ChangeMaps(
        years=yrs,
        changed=changed,
        observed=observed,
        change_count=count,
        first_change_year=first,
        last_change_year=last,
    )


# --- from-to codes ---------------------------------------------------------------------------------------


def from_to(classes_y0: np.ndarray, classes_y1: np.ndarray, n_classes: int) -> np.ndarray:
    """From-to transition code of two class maps, ``(H, W)`` uint16 (the product ``change_{y0}_{y1}.tif``).

    Code ``from * n_classes + to + 1`` for pixels classified in both years (so ``1 ..
    n_classes**2``, unchanged pixels included: ``c * (n_classes + 1) + 1``); 0 where either is nodata.
    """
    a = _check_classes(classes_y0, n_classes, "classes_y0", 2)
    b = _check_classes(classes_y1, n_classes, "classes_y1", 2)
    if a.shape != b.shape:
        raise ProductError(f"classes_y0 {a.shape} and classes_y1 {b.shape} must have the same shape")
    ok = (a != NODATA_CLASS) & (b != NODATA_CLASS)
    code = a.astype(np.uint16) * np.uint16(n_classes) + b.astype(np.uint16) + np.uint16(1)
    return np.where(ok, code, np.uint16(NODATA_FROM_TO)).astype(np.uint16)


def decode_from_to(code: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Split from-to codes into ``(from_class, to_class)`` uint8 maps (255 where the code is 0)."""
    _check_n_classes(n_classes)
    c = np.asarray(code)
    if not np.issubdtype(c.dtype, np.integer):
        raise ProductError(f"from-to codes must be integers, got dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > n_classes * n_classes):
        raise ProductError(f"from-to codes must lie in 0..{n_classes * n_classes} for {n_classes} classes")
    ok = c != NODATA_FROM_TO
    k = np.where(ok, c.astype(np.int64) - 1, 0)
    src = np.where(ok, k // n_classes, NODATA_CLASS).astype(np.uint8)
    dst = np.where(ok, k % n_classes, NODATA_CLASS).astype(np.uint8)
    return src, dst


def from_to_legend(class_names: Sequence[str], *, changed_only: bool = False) -> list[tuple[int, str]]:
    """``(code, "A → B")`` for every from-to code of ``class_names`` (in code order).

    ``changed_only`` leaves out the ``A → A`` codes of unchanged pixels.
    """
    n = len(class_names)
    _check_n_classes(n)
    out: list[tuple[int, str]] = []
    for i, a in enumerate(class_names):
        for j, b in enumerate(class_names):
            if changed_only and i == j:
                continue
            out.append((i * n + j + 1, f"{a} → {b}"))
    return out


# --- areas and statistics -----------------------------------------------------------------------------------


def area_by_class(classes: np.ndarray, pixel_area_ha: np.ndarray | float, n_classes: int) -> np.ndarray:
    """Hectares of each class in each year, ``(Y, n_classes)`` float64.

    ``classes``: ``(Y, H, W)`` (or ``(H, W)`` for one year, giving ``(1, n_classes)``); nodata pixels
    are not counted. ``pixel_area_ha``: ``(H, W)`` from :func:`pixel_area_ha` or one scalar.
    """
    cls = np.asarray(classes)
    if cls.ndim == 2:
        cls = cls[None]
    cls = _check_classes(cls, n_classes, "classes", 3)
    area = _area_weights(pixel_area_ha, cls.shape[1:])
    out = np.zeros((cls.shape[0], n_classes), dtype=np.float64)
    weights = area.ravel()
    for i, year_map in enumerate(cls):
        # nodata (255) falls in a bin past n_classes and is dropped
        out[i] = np.bincount(year_map.ravel(), weights=weights, minlength=NODATA_CLASS + 1)[:n_classes]
    return out


def transition_matrix(
    classes_y0: np.ndarray, classes_y1: np.ndarray, pixel_area_ha: np.ndarray | float, n_classes: int
) -> np.ndarray:
    """Hectares moving from each class to each class between two maps, ``(n, n)`` float64.

    Row = class in ``classes_y0`` (from), column = class in ``classes_y1`` (to); the diagonal is the
    stable area. Only pixels classified in both maps count, so row sums equal the ``y0`` areas of
    :func:`area_by_class` when neither map has nodata.
    """
    code = from_to(classes_y0, classes_y1, n_classes)
    area = _area_weights(pixel_area_ha, code.shape)
    flat = np.bincount(code.ravel(), weights=area.ravel(), minlength=n_classes * n_classes + 1)
    return flat[1:].reshape(n_classes, n_classes)  # bin 0 (nodata) dropped


def change_statistics(
    classes: np.ndarray,
    years: Sequence[int],
    pixel_area_ha: np.ndarray | float,
    class_names: Sequence[str],
) -> dict[str, Any]:
    """JSON-ready statistics of a class-map series (the content of ``stats.json``).

    Keys: ``years``, ``classes``, ``area_ha`` (list per year of ``{class: hectares}``),
    ``total_ha`` (classified hectares per year), ``transitions`` (one per consecutive pair:
    ``from_year``, ``to_year``, ``matrix_ha`` rows from / columns to, ``changed_ha``), and
    ``changed_ha_any`` (hectares that changed at least once).
    """
    n = len(class_names)
    cls = _check_classes(classes, n, "classes", 3)
    yrs = _check_years(years, cls.shape[0])
    area = _area_weights(pixel_area_ha, cls.shape[1:])
    by_class = area_by_class(cls, area, n)
    transitions = []
    for i in range(len(yrs) - 1):
        m = transition_matrix(cls[i], cls[i + 1], area, n)
        transitions.append(
            {
                "from_year": yrs[i],
                "to_year": yrs[i + 1],
                "matrix_ha": m.round(4).tolist(),
                "changed_ha": round(float(m.sum() - np.trace(m)), 4),
            }
        )
    maps = change_maps(cls, yrs)
    return {
        "years": list(yrs),
        "classes": list(class_names),
        "area_ha": [
            {name: round(float(v), 4) for name, v in zip(class_names, row, strict=True)} for row in by_class
        ],
        "total_ha": [round(float(v), 4) for v in by_class.sum(axis=1)],
        "transitions": transitions,
        "changed_ha_any": round(float(area[maps.last_change_year > 0].sum()), 4),
    }


# --- pixel areas -----------------------------------------------------------------------------------------------


def _to_pyproj(crs: Any) -> CRS:
    try:
        return CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    except Exception as exc:
        raise ProductError(f"bad CRS {crs!r} ({exc})") from exc


_EQUAL_AREA_METHODS: Final[frozenset[str]] = frozenset(
    {"sinusoidal", "mollweide", "eckert iv", "eckert vi", "equal earth", "interrupted goode homolosine"}
)  # lower-cased pyproj method names (besides every "... Equal Area ...") that preserve area exactly


def _equal_area_factor(crs: CRS) -> float | None:
    """Square metres per squared CRS unit when ``crs`` is an equal-area projection, else None."""
    op = crs.coordinate_operation
    if not crs.is_projected or op is None:
        return None
    method = op.method_name.lower()
    if "equal area" not in method and method not in _EQUAL_AREA_METHODS:
        return None
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return float(factor) ** 2


def pixel_area_ha(transform: Affine | Sequence[float], crs: Any, height: int, width: int) -> np.ndarray:
    """True ground area of every pixel of a grid, ``(H, W)`` float64 hectares, for any CRS.

    Equal-area projections (MODIS sinusoidal, Albers, LAEA, EASE-Grid 2.0, ...) give the constant
    ``|det(transform)|``. Otherwise the pixel corners are projected to a Lambert azimuthal equal-area
    projection centred on the grid, on the CRS's own ellipsoid or sphere, and each pixel's
    quadrilateral is measured there (matches ``pyproj.Geod`` polygon areas to about 1e-6 for pixels up
    to a few km); for a north-up geographic grid one column is measured and repeated (area depends on
    latitude only). ``crs``: anything pyproj accepts (rasterio ``CRS``, EPSG int, WKT); ``transform``:
    the grid's affine (rotation allowed).
    """
    if height < 1 or width < 1:
        raise ProductError(f"grid must have at least one pixel, got {height} x {width}")
    affine = transform if isinstance(transform, Affine) else Affine(*tuple(transform)[:6])
    src = _to_pyproj(crs)
    factor = _equal_area_factor(src)
    if factor is not None:
        return np.full((height, width), abs(affine.determinant) * factor / 10_000.0)
    if src.is_geographic and affine.b == 0 and affine.d == 0:
        column = _pixel_area_laea(affine, src, height, 1)  # (H, 1)
        return np.repeat(column, width, axis=1)
    return _pixel_area_laea(affine, src, height, width)


def _pixel_area_laea(affine: Affine, src: CRS, height: int, width: int) -> np.ndarray:
    """Pixel areas (ha) measured in a LAEA projection centred on the grid, on the CRS's ellipsoid."""
    geodetic = src.geodetic_crs
    if geodetic is None:
        raise ProductError(f"CRS {src.name!r} has no geodetic datum: cannot measure areas")
    cx, cy = affine @ (width / 2, height / 2)
    to_lonlat = Transformer.from_crs(src, geodetic, always_xy=True)
    lon0, lat0 = to_lonlat.transform(cx, cy)
    if not (np.isfinite(lon0) and np.isfinite(lat0)):
        raise ProductError(f"grid centre ({cx}, {cy}) is outside the domain of CRS {src.name!r}")
    laea = ProjectedCRS(
        conversion=LambertAzimuthalEqualAreaConversion(
            latitude_natural_origin=lat0, longitude_natural_origin=lon0
        ),
        geodetic_crs=geodetic,
    )
    to_laea = Transformer.from_crs(src, laea, always_xy=True)
    cols = np.arange(width + 1, dtype=np.float64)
    out = np.empty((height, width), dtype=np.float64)
    for r0 in range(0, height, _AREA_CHUNK_ROWS):
        r1 = min(r0 + _AREA_CHUNK_ROWS, height)
        rows = np.arange(r0, r1 + 1, dtype=np.float64)
        cc, rr = np.meshgrid(cols, rows)  # (rows + 1, W + 1) pixel corners
        x, y = cast(Any, affine) @ (cc, rr)  # affine's stub types @ on floats only; numpy arrays broadcast
        ex, ey = to_laea.transform(x, y)
        ex, ey = np.asarray(ex), np.asarray(ey)
        # quadrilateral (r, c) (r, c+1) (r+1, c+1) (r+1, c): half the cross product of its diagonals
        d1x, d1y = ex[1:, 1:] - ex[:-1, :-1], ey[1:, 1:] - ey[:-1, :-1]
        d2x, d2y = ex[1:, :-1] - ex[:-1, 1:], ey[1:, :-1] - ey[:-1, 1:]
        out[r0:r1] = 0.5 * np.abs(d1x * d2y - d1y * d2x) / 10_000.0
    if not np.isfinite(out).all():
        raise ProductError(f"some pixel corners fall outside the domain of CRS {src.name!r}")
    return out


# --- ESD preview ------------------------------------------------------------------------------------------------


def esd_preview_rgb(
    embeddings: np.ndarray,
    valid: np.ndarray,
    dims: tuple[int, int, int] = (0, 1, 2),
    *,
    alpha: bool = True,
) -> np.ndarray:
    """RGB(A) preview of one year's embeddings, ``(4, H, W)`` uint8 (``(3, H, W)`` with ``alpha=False``).

    Red, green, blue are the means over the 12 months of code dims ``dims``, mapped linearly from
    [-1, 1] to 0..255 (as the official ESD demo shows a year). Invalid pixels are 0 in every band;
    the alpha band is 255 where ``valid`` and 0 elsewhere.
    """
    emb = _check_embedding(embeddings, "embeddings")
    h, w = emb.shape[2:]
    val = np.asarray(valid, dtype=bool)
    if val.shape != (h, w):
        raise ProductError(f"valid must have shape {(h, w)}, got {val.shape}")
    if len(dims) != 3 or any(not 0 <= int(d) < 6 for d in dims):
        raise ProductError(f"dims must be three code dims in 0..5, got {dims}")
    mean = emb[:, list(dims)].mean(axis=0)  # (3, H, W) in [-1, 1]
    val = val & np.isfinite(mean).all(axis=0)
    rgb = np.clip(np.rint((np.nan_to_num(mean) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    rgb[:, ~val] = 0
    if not alpha:
        return rgb
    return np.concatenate([rgb, np.where(val, 255, 0).astype(np.uint8)[None]])
