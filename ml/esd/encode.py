"""Encode a reflectance (or index) time series into ESD tiles, one per year: ``python -m ml.esd.encode``.

Each year of a :class:`~ml.esd.rasters.RasterSeries` is composited into 12 monthly steps
(:mod:`ml.esd.composite`), encoded by the shipped ESDNet for its bands into 12 FSQ indices per pixel,
and written with :func:`ml.esd.tiles.write_tile` (band 13 QA = clear observations used). ``demo``
builds the four demo stores from the real stacks in ``../shared/data/rasters``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml.errors import CompositeError
from ml.esd.codec import STEPS
from ml.esd.composite import composite_years
from ml.esd.evaluate import reconstruction_metrics
from ml.esd.model import ESDNet, decode_indices, encode_series, load_model
from ml.esd.rasters import DEMO_SOURCES, DEMO_STORES, RasterSeries, read_dated_folder, read_demo, read_stack


@dataclass(frozen=True)
class EncodedYear:
    """One tile-year of ESD embeddings on the series' grid."""

    year: int  # tile year (calendar year, or crop year named by the year it ends in)
    indices: np.ndarray  # (12, H, W) uint16 FSQ index per monthly step; 0 where not valid
    qa: np.ndarray  # (H, W) uint16 number of clear observations composited (ESD band 13)
    valid: np.ndarray  # (H, W) bool pixel has >= min_valid_months clear months
    monthly: np.ndarray  # (12, H, W, B) float32 gap-filled monthly composites the encoder saw
    month_valid: np.ndarray  # (12, H, W) bool months with >= 1 clear observation


def encode_raster(
    series: RasterSeries,
    model: ESDNet,
    years: list[int] | tuple[int, ...] | None = None,
    start_month: int = 1,
    min_valid_months: int = 1,
) -> list[EncodedYear]:
    """Composite and encode every year of ``series`` (default: its calendar years).

    ``start_month`` 9 makes crop years Sep->Aug named by their end year. A pixel is valid in a year
    when at least ``min_valid_months`` months have a clear observation; the others are ESD nodata.
    """
    bands = tuple(model.config.bands)
    alias = {"swir1": "mir", "mir": "swir1"}
    try:
        sel = [series.bands.index(b) if b in series.bands else series.bands.index(alias[b]) for b in bands]
    except (ValueError, KeyError) as exc:
        raise CompositeError(f"{series.name}: bands {series.bands} lack the model bands {bands}") from exc
    h, w = series.shape
    values, clear = series.pixels()
    out = []
    for year, comp in composite_years(
        values[:, :, sel], series.dates, years or series.years, clear, start_month
    ).items():
        valid = comp.valid.sum(axis=1) >= min_valid_months  # (H*W,)
        idx = encode_series(model, comp.values, comp.valid)
        idx[~valid] = 0
        qa = np.minimum(comp.counts.sum(axis=1), np.iinfo(np.uint16).max).astype(np.uint16)
        out.append(
            EncodedYear(
                year=int(year),
                indices=idx.T.reshape(STEPS, h, w),
                qa=np.where(valid, qa, 0).astype(np.uint16).reshape(h, w),
                valid=valid.reshape(h, w),
                monthly=comp.values.transpose(1, 0, 2).reshape(STEPS, h, w, len(bands)),
                month_valid=comp.valid.T.reshape(STEPS, h, w),
            )
        )
    return out


def write_years(
    series: RasterSeries,
    encoded: list[EncodedYear],
    out_dir: str | Path,
    tile_id: str,
    model_bands: tuple[str, ...] | None = None,
    start_month: int = 1,
) -> list[Path]:
    """Write each encoded year as ``SDC30_EBD_V001_{tile_id}_{year}.tif`` in the series' CRS and grid.

    The tiles name the encoder's band set (``ESD_MODEL``, so the app can pick the decoder) and the first
    month of their years (``ESD_YEAR_START_MONTH``, so labels dated in a crop year land in the right year).
    """
    from ml.esd.tiles import write_tile

    tags = {"ESD_YEAR_START_MONTH": str(start_month)}
    if model_bands:
        tags["ESD_MODEL"] = ",".join(model_bands)
    return [
        write_tile(
            out_dir, tile_id, e.year, e.indices, e.qa, e.valid, series.crs, series.transform, tags=tags
        )
        for e in encoded
        if e.valid.any()
    ]


def encoding_report(
    series: RasterSeries, model: ESDNet, encoded: list[EncodedYear], paths: list[Path]
) -> dict[str, Any]:
    """Reconstruction of valid months from the tiles' indices, and bytes per pixel-year raw vs encoded.

    ``raw_int16``: the clear and cloudy observations of a pixel-year as int16 per band plus one QA
    value per observation, as in the source archive; ``tile_file``: bytes on disk of the written tiles
    (compressed COG with overviews) divided by their pixel-years.
    """
    bands = tuple(model.config.bands)
    truth = np.concatenate([e.monthly.transpose(1, 2, 0, 3).reshape(-1, STEPS, len(bands)) for e in encoded])
    mv = np.concatenate([e.month_valid.transpose(1, 2, 0).reshape(-1, STEPS) for e in encoded])
    idx = np.concatenate([e.indices.transpose(1, 2, 0).reshape(-1, STEPS) for e in encoded])
    px_valid = np.concatenate([e.valid.ravel() for e in encoded])
    lo, hi = model.config.clip
    recon = decode_indices(model, idx[px_valid])
    metrics = reconstruction_metrics(np.clip(truth[px_valid], lo, hi), recon, mv[px_valid], bands)
    metrics.pop("per_band")
    pixel_years = int(px_valid.sum())
    years = [e.year for e in encoded]
    obs_per_year = len(series.dates) / max(1, len(series.years))
    file_bytes = sum(p.stat().st_size for p in paths)
    return {
        "name": series.name,
        "bands": list(bands),
        "grid": list(series.shape),
        "crs": series.crs.to_string()[:60],
        "years": years,
        "tiles": [p.name for p in paths],
        "pixel_years": pixel_years,
        "reconstruction_valid_months": metrics,
        "bytes_per_pixel_year": {
            "raw_int16": round(obs_per_year * (len(bands) + 1) * 2, 1),
            "encoded": (STEPS + 1) * 2,
            "tile_file": round(file_bytes / max(1, pixel_years), 1),
        },
    }


def encode_demo(
    out_dir: str | Path, names: list[str] | None = None, shared: Path | None = None
) -> dict[str, Any]:
    """Build the demo stores (``out_dir/<name>/`` tiles): ``names`` of :data:`~ml.esd.rasters.DEMO_SOURCES`,
    default the four of :data:`~ml.esd.rasters.DEMO_STORES`."""
    out = Path(out_dir)
    report: dict[str, Any] = {}
    for name in names or list(DEMO_STORES):
        t0 = time.time()
        src = DEMO_SOURCES[name]
        series = read_demo(name, shared)
        model, meta = load_model(series.bands)
        encoded = encode_raster(series, model, src.years, src.start_month)
        paths = write_years(
            series, encoded, out / name, src.tile_id, tuple(model.config.bands), src.start_month
        )
        report[name] = {
            **encoding_report(series, model, encoded, paths),
            "tile_id": src.tile_id,
            "start_month": src.start_month,
            "weights": Path(meta["path"]).name,
            "folder": str(out / name),
            "seconds": round(time.time() - t0, 1),
        }
    return report


def main(argv: list[str] | None = None) -> None:
    """CLI: ``demo`` (all demo stores), ``folder`` (dated GeoTIFFs), ``stack`` (one band per date)."""
    p = argparse.ArgumentParser(prog="python -m ml.esd.encode", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="encode the demo rasters of ../shared/data into OUT/<name>/")
    d.add_argument("--out", required=True)
    d.add_argument("--only", nargs="*", choices=sorted(DEMO_SOURCES), help="only these data sets")
    for name, helptext in (
        ("folder", "a folder of dated GeoTIFFs (YYYYDOY in the name)"),
        ("stack", "a stack"),
    ):
        s = sub.add_parser(name, help=f"encode {helptext}")
        s.add_argument("path")
        s.add_argument("--out", required=True, help="output folder of tiles")
        s.add_argument("--tile-id", required=True)
        s.add_argument("--years", nargs="*", type=int, default=None)
        s.add_argument("--start-month", type=int, default=1, help="1 calendar years, 9 crop years Sep->Aug")
        s.add_argument("--scale", type=float, default=1.0, help="multiply values by this (1e-4 for x10000)")
        s.add_argument("--weights", default=None, help="checkpoint (default: shipped for the bands)")
        if name == "folder":
            s.add_argument("--band-names", required=True, help="comma-separated names of each file's bands")
        else:
            s.add_argument("--dates", required=True, help="text file with one YYYY-MM-DD per band")
            s.add_argument("--band", default="ndvi", help="name of the stack's variable")
    a = p.parse_args(argv)
    if a.command == "demo":
        print(json.dumps(encode_demo(a.out, a.only), indent=2))
        return
    if a.command == "folder":
        names = tuple(n.strip().lower() for n in a.band_names.split(","))
        series = read_dated_folder(a.path, names, names, a.scale)
    else:
        series = read_stack(a.path, a.dates, a.band.lower(), a.scale)
    model, meta = load_model(a.weights if a.weights else series.bands)
    encoded = encode_raster(series, model, a.years, a.start_month)
    paths = write_years(series, encoded, a.out, a.tile_id, tuple(model.config.bands), a.start_month)
    print(json.dumps({**encoding_report(series, model, encoded, paths), "weights": meta["path"]}, indent=2))


if __name__ == "__main__":
    main()
