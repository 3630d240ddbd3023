"""XYZ tiles of a real Mato Grosso demo analysis, of the ESD store preview; coverage and legends."""

from __future__ import annotations

import io

import morecantile
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from monitoring.models import Analysis, EsdTile
from monitoring.services.pipeline import runner, state
from monitoring.services.tile_prerender import analysis_prerender_tiles, first_view_tiles
from testkit.mato_grosso import static_labels_csv

pytestmark = pytest.mark.django_db
YEARS = list(range(2007, 2014))
DEMO_EXTENT = (-55.99, -12.05, -55.91, -11.99)  # the 37 x 27 px demo raster (MODIS, 231.7 m)
PARAMETERS = {  # a quick TasGen: these tests check the maps, not the dynamic labels
    "year_start_month": 9,
    "tasgen": {"epochs": 5, "rounds": 1, "rf_trees": 20, "gibbs_max": 0},
}
TMS = morecantile.tms.get("WebMercatorQuad")


def run_demo_analysis(api, shared_data, monkeypatch) -> int:
    """Upload the real MT labels and the demo AOI through the API, then run the pipeline stages in this
    process (the tasks the workers would run, in their order); returns the finished analysis id."""
    labels = api.post(
        "/api/labelsets/upload/",
        {"file": SimpleUploadedFile("mt.csv", static_labels_csv(shared_data)), "name": "MT"},
        format="multipart",
    )
    assert labels.status_code == 201, labels.json()
    w, s, e, n = DEMO_EXTENT
    aoi = api.post(
        "/api/aois/",
        {
            "name": "MT",
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        },
        format="json",
    )
    assert aoi.status_code == 201, aoi.json()
    queue: list[tuple[str, tuple]] = []
    monkeypatch.setattr(state, "enqueue", lambda name, *args: queue.append((name, args)))
    created = api.post(
        "/api/analyses/",
        {
            "aoi": aoi.json()["id"],
            "label_set": labels.json()["id"],
            "start_year": YEARS[0],
            "end_year": YEARS[-1],
            "parameters": PARAMETERS,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    queue.append(("analysis.start", (pk,)))
    while queue:
        name, args = queue.pop(0)
        runner.run_step(name, *args, enqueue=lambda n, *a: queue.append((n, a)))
    analysis = Analysis.objects.get(pk=pk)
    assert analysis.status == Analysis.Status.DONE, analysis.error_message
    return pk


def tile_over(lon: float, lat: float, zoom: int) -> tuple[int, int, int]:
    t = TMS.tile(lon, lat, zoom)
    return t.z, t.x, t.y


def png_rgba(content: bytes) -> np.ndarray:
    """(256, 256, 4) uint8 of a PNG tile."""
    img = Image.open(io.BytesIO(content))
    assert img.format == "PNG" and img.size == (256, 256)
    return np.asarray(img.convert("RGBA"))


def opaque_colors(rgba: np.ndarray) -> set[str]:
    px = rgba[rgba[..., 3] == 255][:, :3]
    return {"#" + bytes(int(c) for c in p).hex() for p in np.unique(px, axis=0)}


def test_tiles_coverage_and_legends(api, other_api, demo_store, shared_data, monkeypatch) -> None:
    pk = run_demo_analysis(api, shared_data, monkeypatch)
    body = api.get(f"/api/analyses/{pk}/").json()
    class_colors = {c["color"] for c in body["classes"]}
    products = {(p["kind"], p["year"]): p for p in body["products"]}
    z, x, y = tile_over(-55.95, -12.02, 12)  # one tile holding much of the AOI and land around it

    # land cover: a PNG in the label set's colours, transparent outside the data
    url = products[("landcover", 2012)]["tiles"].format(z=z, x=x, y=y)
    response = api.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, max-age=3600" and response["ETag"].startswith('"')
    rgba = png_rgba(response.content)
    opaque = rgba[..., 3] == 255
    assert 0.05 < opaque.mean() < 0.95  # the AOI inside the tile, nothing around it
    assert set(np.unique(rgba[..., 3])) <= {0, 255}
    colors = opaque_colors(rgba)
    assert colors <= class_colors and len(colors) >= 2, (colors, class_colors)
    assert api.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304

    # every product kind draws; outside the data, at absurd zooms and for other users: 404
    for (kind, year), product in products.items():
        r = api.get(product["tiles"].format(z=z, x=x, y=y))
        assert r.status_code == 200, (kind, year, r.content[:200])
        assert (png_rgba(r.content)[..., 3] > 0).any(), (kind, year)
    far = tile_over(10.0, 45.0, 14)
    assert (
        api.get(products[("landcover", 2012)]["tiles"].format(z=far[0], x=far[1], y=far[2])).status_code
        == 404
    )
    assert api.get(products[("landcover", 2012)]["tiles"].format(z=30, x=0, y=0)).status_code == 404
    assert other_api.get(url).status_code == 404

    # change-year map: colours are the legend's
    legends = api.get(f"/api/analyses/{pk}/legends/").json()
    years_url = products[("change_last_year", 0)]["tiles"].format(z=z, x=x, y=y)
    year_colors = opaque_colors(png_rgba(api.get(years_url).content))
    assert year_colors <= {e["color"] for e in legends["change_last_year"]}

    # legends from the named colour maps, with the label set's classes
    assert [(e["label"], e["color"]) for e in legends["landcover"]] == [
        (c["name"], c["color"]) for c in body["classes"]
    ]
    assert [e["value"] for e in legends["change_last_year"]] == YEARS[1:]
    assert set(legends) == {
        "landcover",
        "change_last_year",
        "change_count",
        "change_from_to",
        "similarity",
        "uncertainty",
    }
    # uncertainty of a year: a float COG shown through the rescaled white..red ramp of its legend
    unc = api.get(products[("uncertainty", YEARS[-1])]["tiles"].format(z=z, x=x, y=y))
    assert unc.status_code == 200 and (png_rgba(unc.content)[..., 3] == 255).any()
    assert [e["value"] for e in legends["uncertainty"]] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert other_api.get(f"/api/analyses/{pk}/legends/").status_code == 404

    # ESD preview of the store itself: any user, non-empty over the demo raster, 404 elsewhere
    preview = other_api.get(f"/api/esd/preview/2012/tiles/{z}/{x}/{y}.png")
    assert preview.status_code == 200 and preview["Cache-Control"] == "private, max-age=3600"
    prgba = png_rgba(preview.content)
    assert (prgba[..., 3] == 255).mean() > 0.05 and prgba[..., :3][prgba[..., 3] == 255].std() > 5
    assert api.get(f"/api/esd/preview/2012/tiles/{far[0]}/{far[1]}/{far[2]}.png").status_code == 404
    assert api.get(f"/api/esd/preview/1990/tiles/{z}/{x}/{y}.png").status_code == 404

    # coverage of the store
    coverage = api.get("/api/esd/coverage/").json()
    assert coverage["years"] == YEARS
    w, s, e, n = coverage["bounds"]
    assert w < -55.95 < e and s < -12.02 < n
    assert len(coverage["footprints"]["features"]) == EsdTile.objects.count()
    assert {f["properties"]["year"] for f in coverage["footprints"]["features"]} == set(YEARS)

    # first-view tiles drawn into the tile cache, as the worker does once an analysis is done
    tiles = first_view_tiles(DEMO_EXTENT, 128)
    zooms = sorted({t[0] for t in tiles})
    assert zooms == list(range(zooms[0], 16)) and len([t for t in tiles if t[0] == zooms[0]]) <= 4
    drawn = analysis_prerender_tiles(analysis_id=pk, max_tiles=24)
    assert drawn > 0
    assert analysis_prerender_tiles(analysis_id=pk, max_tiles=24) == 0  # every one cached now
    cz, cx, cy = tile_over(-55.95, -12.02, first_view_tiles(DEMO_EXTENT, 24)[-1][0])
    cached = api.get(products[("landcover", 2013)]["tiles"].format(z=cz, x=cx, y=cy))
    assert cached.status_code == 200 and (png_rgba(cached.content)[..., 3] == 255).any()


def test_threshold_tile_hides_low_values_and_nodata(tmp_path) -> None:
    """Edge cases on a synthetic float COG (Web Mercator, one z=10 tile): NaN and values under the
    threshold are transparent, the rest drawn in the similarity colours; tiles elsewhere are 404."""
    from affine import Affine

    from ml.cog import write_value_cog
    from ml.colormaps import similarity_colormap
    from monitoring.tiles import TileNotFound, TileStyle, check_tile, render_threshold_tile

    z, x, y = tile_over(-55.95, -12.02, 10)
    b = TMS.xy_bounds(morecantile.Tile(x, y, z))
    res = (b.right - b.left) / 256
    values = np.tile(np.linspace(-1, 1, 256, dtype=np.float32), (256, 1))  # left -1 .. right 1
    values[:64] = np.nan  # top quarter: no data
    path = write_value_cog(
        tmp_path / "sim.tif", values, "EPSG:3857", Affine(res, 0, b.left, 0, -res, b.top), np.nan
    )
    style = TileStyle(colormap=similarity_colormap(), rescale=(0.0, 1.0))
    rgba = png_rgba(render_threshold_tile(path, z, x, y, 0.5, style))
    alpha = rgba[..., 3]
    assert (alpha[:64] == 0).all()  # NaN
    shown = alpha[64:] == 255
    assert shown[:, :180].sum() == 0 and shown[:, 200:].all()  # values < 0.5 hidden, > 0.5 drawn
    cmap = similarity_colormap()
    assert tuple(rgba[100, 255, :3]) == cmap[255][:3]  # similarity 1 -> the top colour
    with pytest.raises(TileNotFound):
        render_threshold_tile(path, z, x + 5, y, 0.5, style)
    with pytest.raises(TileNotFound):
        check_tile(3, 8, 0)  # x beyond 2**z
