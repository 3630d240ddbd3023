"""The change products of a class-map series: deterministic file names, the change COGs, and a CLI.

``python -m ml.maps`` (also ``python -m ml.products``): legends of the named colour maps, change
products of class-map COGs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from ml.atomic import write_text_atomic
from ml.cog import read_class_cog, write_value_cog
from ml.colormaps import COLORMAPS, change_count_colormap, legend
from ml.errors import ProductError


@dataclass(frozen=True)
class ProductFile:
    """One written map product: what the app records about it (``MapProduct`` row)."""

    kind: (
        str  # landcover, uncertainty, change_last_year, change_count, change_from_to, similarity, esd_preview
    )
    path: Path  # the COG
    colormap: str  # name of the colour map that shows it (:data:`ml.colormaps.COLORMAPS`, or "rgb")
    year: int = 0  # its year, or the first year of a pair (0: none)
    year_to: int = 0  # the second year of a pair (0: none)
    class_stats: dict[str, Any] = field(default_factory=dict)  # e.g. {"pixels": {class: count}}


def product_filename(kind: str, year: int | None = None, year_to: int | None = None) -> str:
    """The deterministic file name of a product in an analysis folder (see DESIGN.md, outputs).

    ``landcover`` / ``esd_preview`` / ``uncertainty`` take ``year``; ``change`` (from-to) and ``similarity`` take
    ``year`` and ``year_to``; ``change_last_year``, ``change_first_year``, ``change_count`` none.
    """
    if kind in ("landcover", "esd_preview", "uncertainty") and year is not None:
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
    grid: dict[str, Any] = {"blocksize": blocksize, "overview_min_size": overview_min_size}
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
    write_text_atomic(args.out / "stats.json", json.dumps(stats, ensure_ascii=False, indent=2))
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


if __name__ == "__main__":
    raise SystemExit(main())
