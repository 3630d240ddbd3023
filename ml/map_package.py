"""Self-describing map downloads: a class COG with its class names, colours and a QGIS style.

GDAL keeps category names and raster attribute tables (RAT) of a GeoTIFF in a PAM side file
(``<name>.tif.aux.xml``), which ``gdalinfo`` and QGIS read when it sits beside the image; the colour
table is inside the TIFF. A package is therefore: the COG (optionally reprojected, nearest neighbour so
classes stay classes), its ``.aux.xml`` (category names + RAT: value, name, colour, and for from -> to
maps the two classes), a ``.qml`` QGIS style (paletted renderer with the class labels) and a CSV code
table. :func:`utm_crs` picks the WGS 84 UTM zone of a point, for grids in CRSs without an EPSG code
(such as the MODIS sinusoidal grid of the demo).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from ml.atomic import atomic_path
from ml.errors import ProductError

RGBA = tuple[int, int, int, int]  # red, green, blue, alpha, each 0..255


@dataclass(frozen=True)
class Category:
    """One value of a categorical map: its name and colour; ``from_class``/``to_class`` for change codes."""

    value: int
    name: str
    color: RGBA
    from_class: str = ""
    to_class: str = ""

    @property
    def hex(self) -> str:
        return "#" + "".join(f"{c:02x}" for c in self.color[:3])


def product_categories(
    kind: str,
    class_names: Sequence[str],
    colormap: Mapping[int, Sequence[int]],
    years: Sequence[int] = (),
) -> list[Category]:
    """The categories of a product ``kind`` (a ``MapProduct`` kind), colours from the file's colour map.

    ``landcover``: value = class index; ``change_from_to``: code ``i * n + j + 1`` = class i -> class j
    (0 no data); ``change_last_year``/``change_first_year``: the calendar year of the change (0 none);
    ``change_count``: the number of class changes. Kinds without categories give ``[]``.
    """

    def color(v: int) -> RGBA:
        c = [int(x) for x in colormap.get(v, (128, 128, 128, 255))] + [255]
        return (c[0], c[1], c[2], c[3])

    names = list(class_names)
    n = len(names)
    if kind == "landcover":
        return [Category(i, name, color(i)) for i, name in enumerate(names)]
    if kind == "change_from_to":
        out = []
        for i in range(n):
            for j in range(n):
                code = i * n + j + 1
                label = f"{names[i]} (unchanged)" if i == j else f"{names[i]} → {names[j]}"
                out.append(Category(code, label, color(code), names[i], names[j]))
        return out
    if kind in ("change_last_year", "change_first_year"):
        what = "last" if kind == "change_last_year" else "first"
        return [Category(int(y), f"{what} change in {int(y)}", color(int(y))) for y in years]
    if kind == "change_count":
        top = max(1, len(years) - 1)
        return [Category(k, f"{k} change{'s' if k != 1 else ''}", color(k)) for k in range(top + 1)]
    return []


def pam_xml(categories: Sequence[Category], with_change_columns: bool = False) -> str:
    """GDAL PAM XML of band 1: category names (indexed by value, for values < 256) and a thematic RAT."""
    lines = ["<PAMDataset>", '  <PAMRasterBand band="1">']
    if categories and max(c.value for c in categories) < 256:
        by_value = {c.value: c.name for c in categories}
        lines.append("    <CategoryNames>")
        for v in range(max(by_value) + 1):
            lines.append(f"      <Category>{escape(by_value.get(v, ''))}</Category>")
        lines.append("    </CategoryNames>")
    # field types: 0 integer, 2 string; usages: 5 min-max (the value), 2 name, 6-9 red/green/blue/alpha
    fields = [
        ("Value", 0, 5),
        ("Class", 2, 2),
        ("Red", 0, 6),
        ("Green", 0, 7),
        ("Blue", 0, 8),
        ("Alpha", 0, 9),
    ]
    if with_change_columns:
        fields += [("FromClass", 2, 0), ("ToClass", 2, 0)]
    lines.append('    <GDALRasterAttributeTable tableType="thematic">')
    for i, (name, ftype, usage) in enumerate(fields):
        lines.append(
            f'      <FieldDefn index="{i}"><Name>{name}</Name><Type>{ftype}</Type><Usage>{usage}</Usage></FieldDefn>'
        )
    for r, c in enumerate(categories):
        values = [str(c.value), escape(c.name), *(str(x) for x in c.color)]
        if with_change_columns:
            values += [escape(c.from_class), escape(c.to_class)]
        cells = "".join(f"<F>{v}</F>" for v in values)
        lines.append(f'      <Row index="{r}">{cells}</Row>')
    lines += ["    </GDALRasterAttributeTable>", "  </PAMRasterBand>", "</PAMDataset>", ""]
    return "\n".join(lines)


def qml_style(categories: Sequence[Category], opacity: float = 1.0) -> str:
    """A QGIS layer style (``.qml``): paletted renderer of band 1 with one labelled colour per category."""
    entries = "\n".join(
        f"        <paletteEntry value={quoteattr(str(c.value))} color={quoteattr(c.hex)} "
        f"alpha={quoteattr(str(c.color[3]))} label={quoteattr(c.name)}/>"
        for c in categories
    )
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="paletted" band="1" opacity="{opacity}" alphaBand="-1" nodataColor="">
      <rasterTransparency/>
      <minMaxOrigin><limits>None</limits><extent>WholeRaster</extent></minMaxOrigin>
      <colorPalette>
{entries}
      </colorPalette>
      <colorramp type="randomcolors" name="[source]"/>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation colorizeOn="0" saturation="0" grayscaleMode="0" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""


def codes_csv(categories: Sequence[Category], with_change_columns: bool = False) -> str:
    """The code table: value, name, colour (hex), and for change codes the from and to classes."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    header = ["value", "name", "color"] + (["from_class", "to_class"] if with_change_columns else [])
    writer.writerow(header)
    for c in categories:
        row = [c.value, c.name, c.hex] + ([c.from_class, c.to_class] if with_change_columns else [])
        writer.writerow(row)
    return buf.getvalue()


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS (EPSG 326zz north, 327zz south) that holds a lon/lat point."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ProductError(f"({lon}, {lat}) is not a longitude/latitude")
    zone = min(60, int((lon + 180) // 6) + 1)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def export_cog(
    src_path: str | Path,
    dst_path: str | Path,
    dst_crs: CRS | None = None,
    colormap: Mapping[int, Sequence[int]] | None = None,
) -> Path:
    """Copy a single-band product COG to ``dst_path`` as a COG, reprojected to ``dst_crs`` when given.

    Reprojection is nearest neighbour (class values stay classes; overviews by ``mode``); nodata and
    metadata tags are kept, and the colour table: ``colormap`` when given (for products written
    without one, whose colours live in a named server-side colour map), else the file's own.
    Written to a temporary file, then renamed.
    """
    src_path, dst = Path(src_path), Path(dst_path)
    with atomic_path(dst, suffix=".tif") as tmp, rasterio.open(src_path) as src:
        if colormap is None:
            try:
                colormap = src.colormap(1)
            except ValueError:
                colormap = None
        tags = src.tags()
        source = WarpedVRT(src, crs=dst_crs, resampling=Resampling.nearest) if dst_crs is not None else src
        try:
            profile = cog_profiles.get("deflate")  # type: ignore[no-untyped-call]  # rio-cogeo: unannotated
            profile.update(blockxsize=256, blockysize=256)
            cog_translate(
                source,
                str(tmp),
                profile,
                nodata=src.nodata,
                colormap=dict(colormap) if colormap is not None else None,
                overview_resampling="mode",
                additional_cog_metadata=tags,
                in_memory=True,
                quiet=True,
                use_cog_driver=False,
            )
        finally:
            if source is not src:
                source.close()
    return dst
