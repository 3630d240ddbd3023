"""Protocol cases with *real* land change and real stability (no spliced series).

``dtwsat`` (:func:`dtwsat_case`): the 603 labelled points of dtwSat's ``samples_MT.shp`` (Mato Grosso,
crop years Sep->Aug, 2007-2013) on the MODIS cube they come with. Each distinct location with a label
in the static crop year (default 2011-12, named 2012 by its end year) is a sample; its series is the
monthly composite of the cube's 6 bands (ndvi, evi, red, nir, mir, blue) at its pixel for every crop
year the cube covers in full; its static class is that label; the *truth* is the real label of the
same location in other crop years, where the data set has one. Only those location-years are scored.
Every real change there is to Soybean-maize, a class absent from the 2011-12 labels.

``stable`` (:func:`stable_case`): a sample file's locations with several yearly rows of the same class
(e.g. ``cerrado_modis_2classes_multiyear.npz``, the multi-year locations of
``matogrosso_modis_9classes.npz``). The static label is the class at one (seeded) year of each
location; every other year of those locations is truly unchanged and is scored (any flag is a false
change). Locations with one row, or whose rows change class, train the model but are not scored.

Both return a :class:`ProtocolCase` with a ``scored`` mask; folds are a seeded half split of the
locations, as in the other protocols.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml.errors import TasGenError
from ml.esd.composite import composite_monthly
from ml.esd.rasters import read_dated_folder, shared_data_dir
from ml.eval.cases import ProtocolCase
from ml.samples import SampleSet
from ml.tasgen.series import MONTHS, SampleSeries, monthly_means

DTWSAT_BANDS: tuple[str, ...] = ("ndvi", "evi", "red", "nir", "mir", "blue")
DTWSAT_FILE_BANDS: tuple[str, ...] = ("ndvi", "evi", "red", "nir", "mir", "blue", "doy")


def default_dtwsat_cube() -> Path:
    """``../shared/data/rasters/modis_matogrosso_dtwsat/lucc_MT_2007_2013`` (``$ESD_SHARED_DATA`` aware)."""
    return shared_data_dir() / "rasters" / "modis_matogrosso_dtwsat" / "lucc_MT_2007_2013"


def _read_points(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, class, crop year end) of the points of a dtwSat ``samples_MT.shp``-like file."""
    import pyogrio

    frame = pyogrio.read_dataframe(path)
    for col in ("to", "group"):
        if col not in frame.columns:
            raise TasGenError(f"{path}: no {col!r} column (columns {list(frame.columns)})")
    year = np.array([int(str(t)[:4]) for t in frame["to"]], dtype=np.int64)
    return (
        frame.geometry.x.to_numpy(),
        frame.geometry.y.to_numpy(),
        frame["group"].astype(str).to_numpy(),
        year,
    )


def dtwsat_case(cube: Path | None = None, seed: int = 0, static_year: int = 2012) -> ProtocolCase:
    """The ``dtwsat`` case (module docstring); ``seed`` draws the location folds.

    Raises :class:`TasGenError` when the cube or its ``samples_MT.shp`` is missing, or no point has a
    label in ``static_year``.
    """
    import rasterio.transform
    import rasterio.warp

    cube = Path(cube) if cube is not None else default_dtwsat_cube()
    shp = cube / "samples_MT.shp"
    if not shp.is_file():
        raise TasGenError(f"dtwsat protocol: {shp} not found (pass --cube DIR)")
    rs = read_dated_folder(cube, DTWSAT_FILE_BANDS, DTWSAT_BANDS, name="mt-dtwsat")
    lon, lat, klass, year = _read_points(shp)
    key = np.round(lon, 5) * 1e3 + np.round(lat, 5)
    uniq, loc = np.unique(key, return_inverse=True)
    static_locs = np.unique(loc[year == static_year])
    if not len(static_locs):
        raise TasGenError(f"dtwsat protocol: no labelled point in crop year {static_year}")
    first = np.array([np.flatnonzero(loc == u)[0] for u in static_locs])
    xs, ys = rasterio.warp.transform("EPSG:4326", rs.crs, lon[first].tolist(), lat[first].tolist())
    rows, cols = rasterio.transform.rowcol(rs.transform, xs, ys)
    rows, cols = np.asarray(rows), np.asarray(cols)
    h, w = rs.shape
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    static_locs, rows, cols = static_locs[inside], rows[inside], cols[inside]
    # crop years the cube covers from September to August
    months = np.unique(rs.dates.astype("datetime64[M]"))
    years = tuple(
        y
        for y in range(int(str(months[0])[:4]), int(str(months[-1])[:4]) + 2)
        if np.datetime64(f"{y - 1}-09", "M") in months and np.datetime64(f"{y}-08", "M") in months
    )
    n, ny, b = len(static_locs), len(years), len(DTWSAT_BANDS)
    series_px = rs.values[:, rows, cols].transpose(1, 0, 2)  # (N, T, B)
    clear = rs.clear[:, rows, cols].T  # (N, T)
    values = np.zeros((n, ny, MONTHS, b), dtype=np.float32)
    valid = np.zeros((n, ny), dtype=bool)
    for j, y in enumerate(years):
        comp = composite_monthly(series_px, rs.dates, np.datetime64(f"{y - 1}-09", "M"), clear)
        values[:, j] = comp.values
        valid[:, j] = comp.valid.sum(1) >= 8  # at least 8 of the 12 months observed
    truth = np.full((n, ny), "", dtype=object)
    pos = {int(u): i for i, u in enumerate(static_locs)}
    for p in range(len(lon)):
        i = pos.get(int(loc[p]))
        if i is not None and int(year[p]) in years and truth[i, years.index(int(year[p]))] == "":
            truth[i, years.index(int(year[p]))] = klass[p]
    j_static = years.index(static_year)
    static = truth[:, j_static].astype(str)
    keep = valid[:, j_static]
    values, valid, truth, static = values[keep], valid[keep], truth[keep], static[keep]
    truth = np.where(valid, truth, "")
    scored = (truth != "") & valid
    scored[:, j_static] = False
    series = SampleSeries(
        values,
        valid,
        years,
        static,
        np.full(len(static), static_year, dtype=np.int64),
        DTWSAT_BANDS,
    )
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(static), dtype=np.int64)
    fold[rng.choice(len(static), len(static) // 2, replace=False)] = 1
    return ProtocolCase(series, truth.astype(str), fold, np.zeros(len(static), dtype=np.int64), scored)


def stable_case(samples: SampleSet, seed: int, min_class_locations: int = 20) -> ProtocolCase:
    """The ``stable`` case of a sample file (module docstring); ``seed`` draws reference years and folds.

    Locations whose static class has fewer than ``min_class_locations`` locations are left out (too
    few to learn the class in each fold). Raises :class:`TasGenError` when no location has two or
    more yearly rows of one class.
    """
    if len(samples) == 0:
        raise TasGenError("stable protocol: the sample file is empty")
    rng = np.random.default_rng(seed)
    monthly = monthly_means(samples.X, samples.dates, samples.start_date)
    loc = samples.location_ids()
    years = tuple(int(y) for y in np.unique(samples.year))
    yi = np.searchsorted(np.asarray(years), samples.year)
    uniq, pos = np.unique(loc, return_inverse=True)
    n, ny, b = len(uniq), len(years), monthly.shape[2]
    values = np.zeros((n, ny, MONTHS, b), dtype=np.float32)
    valid = np.zeros((n, ny), dtype=bool)
    truth = np.full((n, ny), "", dtype=object)
    values[pos, yi] = monthly
    valid[pos, yi] = True
    truth[pos, yi] = samples.label
    ref = np.array([int(rng.choice(np.flatnonzero(v))) for v in valid])
    static = truth[np.arange(n), ref].astype(str)
    n_years = valid.sum(1)
    constant = np.array([len(set(t[v])) == 1 for t, v in zip(truth, valid, strict=True)])
    scored = valid & (n_years >= 2)[:, None] & constant[:, None]
    scored[np.arange(n), ref] = False
    names, counts = np.unique(static, return_counts=True)
    keep = np.isin(static, names[counts >= min_class_locations])
    values, valid, truth, static, ref, scored = (a[keep] for a in (values, valid, truth, static, ref, scored))
    if not scored.any():
        raise TasGenError("stable protocol: no location has two or more yearly rows of the same class")
    n = len(static)
    series = SampleSeries(
        values, valid, years, static, np.asarray(years)[ref].astype(np.int64), samples.bands
    )
    fold = np.zeros(n, dtype=np.int64)
    fold[rng.choice(n, n // 2, replace=False)] = 1
    return ProtocolCase(series, truth.astype(str), fold, np.zeros(n, dtype=np.int64), scored)
