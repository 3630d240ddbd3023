"""Named colour maps and legends of the map products (the web map and the COG colour tables share them).

Colours are ``"#rrggbb"`` strings or :data:`RGBA` tuples; a :data:`ColorMap` maps raster values to
colours in the rio-tiler / GDAL colour-table layout.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from ml.change import NODATA_CLASS, NODATA_FROM_TO, from_to_legend
from ml.errors import ProductError

RGBA = tuple[int, int, int, int]  # red, green, blue, alpha, each 0..255
ColorMap = dict[int, RGBA]  # raster value -> colour (rio-tiler / GDAL colour-table layout)

TRANSPARENT: Final[RGBA] = (0, 0, 0, 0)

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
    """From-to code -> one distinct colour per changed pair; unchanged codes light grey, 0 transparent.

    Pairs are numbered in code order (A → B before A → C ...) and take :func:`default_class_colors` of
    that many, so "Cotton-fallow → Forest" and "Soybean-cotton → Forest" no longer look alike (the
    colour of the class changed *to* made them identical). ``colors`` (the class colours) only fixes
    the number of classes and is checked.
    """
    n = len(colors)
    class_colormap(colors)  # checks the colours
    pair_rgba = [hex_to_rgba(c) for c in default_class_colors(n * (n - 1))]
    grey = hex_to_rgba(UNCHANGED_COLOR)
    cmap: ColorMap = {NODATA_FROM_TO: TRANSPARENT}
    k = 0
    for i in range(n):
        for j in range(n):
            if i == j:
                cmap[i * n + j + 1] = grey
            else:
                cmap[i * n + j + 1] = pair_rgba[k]
                k += 1
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
        ends = {0.0: "0 (one sure class)", 1.0: "1 (all classes equal)"}
        return [
            {"value": v, "label": ends.get(v, f"{v:.2f}"), "color": rgba_to_hex(cmap[int(round(v * 255))])}
            for v in (0.0, 0.25, 0.5, 0.75, 1.0)
        ]
    raise ProductError(f"unknown legend {name!r}; known: {sorted(COLORMAPS)}")
