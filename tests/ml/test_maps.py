"""Map COG writers and named colour maps on the real Mato Grosso products (MODIS sinusoidal grid)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import rio_cogeo.cogeo
from rasterio.enums import ColorInterp
from rio_cogeo.cogeo import cog_validate
from rio_tiler.colormap import apply_cmap
from rio_tiler.io import Reader

from ml.change import (
    NODATA_CLASS,
    change_maps,
    change_statistics,
    consecutive_similarity,
    esd_preview_rgb,
    from_to,
)
from ml.cog import read_class_cog, read_class_colormap, write_class_cog, write_rgb_cog, write_value_cog
from ml.colormaps import (
    TABLEAU_10,
    TRANSPARENT,
    change_count_colormap,
    class_colormap,
    default_class_colors,
    from_to_colormap,
    hex_to_rgba,
    legend,
    named_colormap,
    rgba_to_hex,
    similarity_colormap,
    years_colormap,
)
from ml.errors import ProductError
from ml.products import main, product_filename, write_change_products
from tests.ml.test_change import SINOP_4326, MtSeries, mt_series

SMALL: dict[str, Any] = {
    "blocksize": 16,
    "overview_min_size": 16,
}  # 27 x 37 px: 16 px blocks so overviews exist


@pytest.fixture(scope="module")
def mt() -> MtSeries:
    return mt_series()


def _assert_cog(path: Path, mt: MtSeries) -> rasterio.DatasetReader:
    valid, errors, warnings = cog_validate(str(path))
    assert valid and not errors and not warnings, (errors, warnings)
    src = rasterio.open(path)
    assert src.crs == mt.crs  # the input CRS is kept (MODIS sinusoidal)
    assert src.transform.almost_equals(mt.transform)
    assert src.profile["compress"] == "deflate" and src.profile["tiled"]
    assert src.block_shapes[0] == (16, 16)
    assert src.overviews(1) == [2, 4]
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    return src


def test_write_class_cog_real_landcover(tmp_path: Path, mt: MtSeries) -> None:
    colors = default_class_colors(len(mt.class_names))
    path = write_class_cog(
        tmp_path / "landcover_2009.tif",
        mt.classes[1],
        mt.crs,
        mt.transform,
        colors,
        class_names=mt.class_names,
        **SMALL,
    )
    assert path == tmp_path / "landcover_2009.tif"
    with _assert_cog(path, mt) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == NODATA_CLASS
        np.testing.assert_array_equal(src.read(1), mt.classes[1])  # real nodata pixels kept as 255
        assert src.colorinterp[0] == ColorInterp.palette
        cmap = src.colormap(1)
        for i, c in enumerate(colors):
            assert cmap[i] == hex_to_rgba(c)
        assert cmap[NODATA_CLASS][3] == 0
        assert json.loads(src.tags()["CLASS_NAMES"]) == list(mt.class_names)
        assert src.tags()["OVERVIEW_RESAMPLING"] == "MODE"
        overview = src.read(1, out_shape=(7, 10))  # mode overview: only real class values
        assert set(np.unique(overview)) <= set(range(len(colors))) | {NODATA_CLASS}
    assert read_class_colormap(path)[0] == hex_to_rgba(colors[0])


def test_write_class_cog_geographic_grid(tmp_path: Path) -> None:
    with rasterio.open(SINOP_4326) as src:
        ndvi = src.read(1)
        crs, transform = src.crs, src.transform
    classes = np.digitize(ndvi, np.quantile(ndvi, [0.25, 0.5, 0.75])).astype(np.uint8)  # 4 real NDVI classes
    path = write_class_cog(tmp_path / "lc.tif", classes, crs, transform, list(TABLEAU_10[:4]), **SMALL)
    assert cog_validate(str(path))[0]
    with rasterio.open(path) as out:
        assert out.crs == crs and out.transform.almost_equals(transform)
        np.testing.assert_array_equal(out.read(1), classes)


def test_write_value_cogs_of_change_products(tmp_path: Path, mt: MtSeries) -> None:
    cm = change_maps(mt.classes, mt.years)
    sim = consecutive_similarity(mt.codes, mt.valid)
    last = write_value_cog(
        tmp_path / "change_last_year.tif", cm.last_change_year, mt.crs, mt.transform, 0, **SMALL
    )
    count = write_value_cog(
        tmp_path / "change_count.tif",
        cm.change_count,
        mt.crs,
        mt.transform,
        255,
        colormap=change_count_colormap(),
        **SMALL,
    )
    simp = write_value_cog(
        tmp_path / "similarity_2008_2009.tif",
        sim[0],
        mt.crs,
        mt.transform,
        float("nan"),
        overview_resampling="average",
        description="cosine similarity 2008-2009",
        **SMALL,
    )
    code = from_to(mt.classes[2], mt.classes[3], len(mt.class_names))
    ftp = write_value_cog(tmp_path / "change_2010_2011.tif", code, mt.crs, mt.transform, 0, **SMALL)
    with _assert_cog(last, mt) as src:
        assert src.dtypes[0] == "uint16" and src.nodata == 0
        np.testing.assert_array_equal(src.read(1), cm.last_change_year)
    with _assert_cog(count, mt) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        np.testing.assert_array_equal(src.read(1), cm.change_count)
        assert src.colormap(1)[0][:3] == (255, 255, 255)
    with _assert_cog(simp, mt) as src:
        assert src.dtypes[0] == "float32" and np.isnan(src.nodata)
        np.testing.assert_array_equal(np.isnan(src.read(1)), np.isnan(sim[0]))  # real 2009 nodata pixels
        np.testing.assert_allclose(src.read(1), sim[0], equal_nan=True)
        assert src.descriptions[0] == "cosine similarity 2008-2009"
    with _assert_cog(ftp, mt) as src:
        np.testing.assert_array_equal(src.read(1), code)


def test_write_rgb_cog_esd_preview(tmp_path: Path, mt: MtSeries) -> None:
    rgba = esd_preview_rgb(mt.codes[1], mt.valid[1])
    path = write_rgb_cog(tmp_path / "esd_preview_2009.tif", rgba, mt.crs, mt.transform, **SMALL)
    with _assert_cog(path, mt) as src:
        assert src.count == 4
        assert src.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha)
        np.testing.assert_array_equal(src.read(), rgba)
        assert (src.read(4) == 0).sum() == (~mt.valid[1]).sum()
    rgb = write_rgb_cog(tmp_path / "rgb.tif", rgba[:3], mt.crs, mt.transform, **SMALL)
    with rasterio.open(rgb) as src:
        assert src.count == 3
        np.testing.assert_array_equal(src.read(), rgba[:3])


def test_rio_tiler_renders_products_with_named_colormaps(tmp_path: Path, mt: MtSeries) -> None:
    cm = change_maps(mt.classes, mt.years)
    path = write_value_cog(tmp_path / "change_last_year.tif", cm.last_change_year, mt.crs, mt.transform, 0)
    with Reader(str(path)) as reader:
        img = reader.read()
    rgb, alpha = apply_cmap(img.data, named_colormap("years", years=mt.years))
    changed = cm.last_change_year > 0
    assert (alpha[changed] == 255).all() and (alpha[~changed] == 0).all()
    year = int(cm.last_change_year[changed][0])
    r, c = np.argwhere(cm.last_change_year == year)[0]
    assert tuple(rgb[:, r, c]) == years_colormap(mt.years)[year][:3]
    classes = write_class_cog(
        tmp_path / "lc.tif", mt.classes[1], mt.crs, mt.transform, default_class_colors(len(mt.class_names))
    )
    with Reader(str(classes)) as reader:
        img = reader.read()
    _, alpha = apply_cmap(img.data, named_colormap("landcover", class_names=mt.class_names))
    np.testing.assert_array_equal(alpha == 255, mt.valid[1])


def test_rewrite_is_idempotent_and_failed_write_keeps_old_file(
    tmp_path: Path, mt: MtSeries, monkeypatch: pytest.MonkeyPatch
) -> None:
    colors = default_class_colors(len(mt.class_names))
    target = tmp_path / "landcover_2010.tif"
    write_class_cog(target, mt.classes[2], mt.crs, mt.transform, colors, **SMALL)
    first = target.read_bytes()
    write_class_cog(target, mt.classes[2], mt.crs, mt.transform, colors, **SMALL)
    assert target.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landcover_2010.tif"]
    assert target.stat().st_mode & 0o777 == 0o644

    def killed(src: object, dst: str, *args: object, **kwargs: object) -> None:
        Path(dst).write_bytes(b"II*\x00 half a tiff")  # the worker dies mid-write
        raise KeyboardInterrupt

    monkeypatch.setattr(rio_cogeo.cogeo, "cog_translate", killed)
    with pytest.raises(KeyboardInterrupt):
        write_class_cog(target, mt.classes[3], mt.crs, mt.transform, colors, **SMALL)
    assert target.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landcover_2010.tif"]


def test_writer_input_errors(tmp_path: Path, mt: MtSeries) -> None:
    colors = default_class_colors(3)
    with pytest.raises(ProductError, match="no colour"):
        write_class_cog(tmp_path / "a.tif", mt.classes[0], mt.crs, mt.transform, colors)
    with pytest.raises(ProductError, match="CRS"):
        write_class_cog(tmp_path / "a.tif", np.zeros((4, 4), np.uint8), "EPSG:999999", mt.transform, colors)
    with pytest.raises(ProductError, match="dtype"):
        write_value_cog(tmp_path / "a.tif", np.zeros((4, 4), np.int64), mt.crs, mt.transform, 0)
    with pytest.raises(ProductError, match="nodata"):
        write_value_cog(tmp_path / "a.tif", np.zeros((4, 4), np.uint8), mt.crs, mt.transform, 300)
    with pytest.raises(ProductError, match="colour table"):
        write_value_cog(
            tmp_path / "a.tif",
            np.zeros((4, 4), np.float32),
            mt.crs,
            mt.transform,
            0,
            colormap={0: TRANSPARENT},
        )
    with pytest.raises(ProductError, match="rgb"):
        write_rgb_cog(tmp_path / "a.tif", np.zeros((2, 4, 4), np.uint8), mt.crs, mt.transform)
    assert not list(tmp_path.iterdir())


# --- colour maps and legends --------------------------------------------------------------------------------


def test_default_class_colors_are_distinct_and_stable() -> None:
    assert default_class_colors(5) == list(TABLEAU_10[:5])
    many = default_class_colors(40)
    assert len(set(many)) == 40 and many[:5] == default_class_colors(5)
    assert all(len(c) == 7 and c.startswith("#") for c in many)


def test_hex_round_trip_and_errors() -> None:
    assert hex_to_rgba("#4e79a7") == (78, 121, 167, 255)
    assert hex_to_rgba("fff") == (255, 255, 255, 255)
    assert hex_to_rgba("#00000000") == TRANSPARENT
    assert rgba_to_hex((78, 121, 167, 255)) == "#4e79a7" and rgba_to_hex(TRANSPARENT) == "#00000000"
    with pytest.raises(ProductError, match="hex colour"):
        hex_to_rgba("forestgreen")


def test_named_colormaps() -> None:
    cls = class_colormap(["#228b22", "#ffd700"])
    assert cls == {0: (34, 139, 34, 255), 1: (255, 215, 0, 255), 255: TRANSPARENT}
    count = change_count_colormap()
    assert count[0] == (255, 255, 255, 255) and count[5] == count[12] == hex_to_rgba("#a50f15")
    assert count[255] == TRANSPARENT and len(count) == 256
    reds = [count[i][1] for i in range(6)]  # green channel falls: white -> dark red
    assert reds == sorted(reds, reverse=True)
    yrs = years_colormap((2008, 2009, 2010))
    assert set(yrs) == {0, 2008, 2009, 2010} and yrs[0] == TRANSPARENT
    assert yrs[2008][:3] == hex_to_rgba("#440154")[:3] and yrs[2010][:3] == hex_to_rgba("#fde725")[:3]
    sim = similarity_colormap()
    assert (
        len(sim) == 256
        and sim[0][:3] == hex_to_rgba("#a50026")[:3]
        and sim[255][:3] == hex_to_rgba("#313695")[:3]
    )
    ft = from_to_colormap(["#228b22", "#ffd700"])
    assert ft[0] == TRANSPARENT and ft[1] == ft[4] == hex_to_rgba("#d9d9d9")  # 0->0 and 1->1 unchanged
    # one colour per changed pair, distinct from each other and from "unchanged"
    assert ft[2] != ft[3] and ft[2][3] == ft[3][3] == 255 and hex_to_rgba("#d9d9d9") not in (ft[2], ft[3])
    five = from_to_colormap(default_class_colors(5))
    changed = [five[i * 5 + j + 1] for i in range(5) for j in range(5) if i != j]
    assert len(set(changed)) == 20  # e.g. A -> E and B -> E differ
    assert named_colormap("landcover", class_names=["a", "b"]) == class_colormap(default_class_colors(2))
    with pytest.raises(ProductError, match="unknown"):
        named_colormap("rainbow")
    with pytest.raises(ProductError, match="years"):
        named_colormap("years")


def test_legends(mt: MtSeries) -> None:
    names = list(mt.class_names)
    lc = legend("landcover", names)
    assert [e["label"] for e in lc] == names and lc[0] == {
        "value": 0,
        "label": names[0],
        "color": TABLEAU_10[0],
    }
    ft = legend("from_to", names, colors=default_class_colors(5))
    assert len(ft) == 5 * 4 + 1 and ft[-1]["label"] == "No change"
    assert ft[0]["label"] == f"{names[0]} → {names[1]}" and ft[0]["value"] == 2
    counts = legend("change_count")
    assert [e["value"] for e in counts] == [0, 1, 2, 3, 4, 5] and counts[-1]["label"] == "5+ changes"
    years = legend("years", years=mt.years)
    assert [e["value"] for e in years] == list(mt.years[1:])  # the first year cannot be a change year
    sim = legend("similarity")
    assert sim[0]["value"] == 0.0 and "threshold" in sim[1]["label"]
    json.dumps([lc, ft, counts, years, sim])
    with pytest.raises(ProductError, match="unknown legend"):
        legend("ndvi")
    with pytest.raises(ProductError, match="colours"):
        legend("landcover", names, colors=["#000000"])


# --- whole-series products and CLI ----------------------------------------------------------------------------


def test_read_class_cog_round_trip(tmp_path: Path, mt: MtSeries) -> None:
    colors = default_class_colors(len(mt.class_names))
    path = write_class_cog(
        tmp_path / "landcover_2012.tif",
        mt.classes[4],
        mt.crs,
        mt.transform,
        colors,
        class_names=mt.class_names,
    )
    back = read_class_cog(path)
    np.testing.assert_array_equal(back.classes, mt.classes[4])
    assert back.colors == colors and back.class_names == list(mt.class_names)
    assert back.crs == mt.crs and back.transform.almost_equals(mt.transform)
    with pytest.raises(ProductError, match="cannot read"):
        read_class_cog(tmp_path / "missing.tif")


def test_product_filenames() -> None:
    assert product_filename("landcover", 2012) == "landcover_2012.tif"
    assert product_filename("change", 2008, 2013) == "change_2008_2013.tif"
    assert product_filename("similarity", 2008, 2009) == "similarity_2008_2009.tif"
    assert product_filename("change_count") == "change_count.tif"
    with pytest.raises(ProductError, match="unknown product"):
        product_filename("change", 2008)


def test_write_change_products_real_series(tmp_path: Path, mt: MtSeries) -> None:
    sim = consecutive_similarity(mt.codes, mt.valid)
    written = write_change_products(
        tmp_path, mt.classes, mt.years, mt.crs, mt.transform, len(mt.class_names), similarity=sim, **SMALL
    )
    pairs = [f"change_{a}_{b}.tif" for a, b in zip(mt.years, mt.years[1:], strict=False)] + [
        "change_2008_2013.tif"
    ]
    sims = [f"similarity_{a}_{b}.tif" for a, b in zip(mt.years, mt.years[1:], strict=False)]
    assert sorted(written) == sorted(
        ["change_last_year.tif", "change_first_year.tif", "change_count.tif", *pairs, *sims]
    )
    cm = change_maps(mt.classes, mt.years)
    for name, path in written.items():
        assert path == tmp_path / name and cog_validate(str(path))[0]
    with rasterio.open(written["change_count.tif"]) as src:
        np.testing.assert_array_equal(src.read(1), cm.change_count)
    with rasterio.open(written["change_2008_2013.tif"]) as src:
        np.testing.assert_array_equal(
            src.read(1), from_to(mt.classes[0], mt.classes[-1], len(mt.class_names))
        )
    with rasterio.open(written["similarity_2010_2011.tif"]) as src:
        np.testing.assert_allclose(src.read(1), sim[2])
    with pytest.raises(ProductError, match="pair"):
        write_change_products(tmp_path, mt.classes, mt.years, mt.crs, mt.transform, 5, pairs=[(2000, 2008)])


def test_cli_change_and_legend(tmp_path: Path, mt: MtSeries, capsys: pytest.CaptureFixture[str]) -> None:
    colors = default_class_colors(len(mt.class_names))
    for j, year in enumerate(mt.years):
        write_class_cog(
            tmp_path / f"landcover_{year}.tif",
            mt.classes[j],
            mt.crs,
            mt.transform,
            colors,
            class_names=mt.class_names,
        )
    out = tmp_path / "out"
    files = [str(tmp_path / f"landcover_{y}.tif") for y in reversed(mt.years)]  # order does not matter
    assert main(["change", *files, "--out", str(out), "--blocksize", "16"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["years"] == list(mt.years) and "change_count.tif" in summary["written"]
    assert summary["pixel_ha_mean"] == pytest.approx(5.3665, abs=1e-4)
    stats = json.loads((out / "stats.json").read_text())
    area = np.full((27, 37), summary["pixel_ha_mean"])
    expected = change_statistics(mt.classes, mt.years, area, mt.class_names)
    assert stats["classes"] == list(mt.class_names)
    np.testing.assert_allclose(stats["total_ha"], expected["total_ha"], rtol=1e-4)
    assert main(["legend", "landcover", "--classes", ",".join(mt.class_names)]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["label"] for e in entries] == list(mt.class_names)
