"""CPU time of one map tile render: ``ml.xyz`` (the tile API's renderer) against rio-tiler's warped read.

The tiles: every XYZ tile at zooms 12-15 over the Mato Grosso demo AOI of the land-cover maps (7
years) and the change-count map that ``bench/bench_load.py`` computed (run it first; ``ESD_BENCH_DB``
names its folder under ``var/bench``, default ``esd_bench_load``), 648 tiles, as ``tiles_first_view``
asks for them. Each is drawn both ways in this process, one thread: rio-tiler (``Reader.tile`` +
``ImageData.render`` to PNG with the colour map, what the API did before) and ``ml.xyz``
(``read_xyz`` + ``colour_values``). Process CPU time per tile (``time.process_time``: far less
sensitive to a shared machine's load than wall time), second of two passes (file cache warm).

Run: ``.venv/bin/python -m bench.bench_tile_render``; prints JSON and writes
``bench/results/tile_render_cpu_ms.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from bench.bench_load import DEMO_BBOX, OUT


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-record", dest="record", action="store_false")
    args = parser.parse_args(argv)

    import morecantile
    from rio_tiler.io import Reader

    from ml.colormaps import change_count_colormap, class_colormap, default_class_colors
    from ml.xyz import colour_values, read_xyz

    media = OUT / os.environ.get("ESD_BENCH_DB", "esd_bench_load") / "media" / "analyses"
    folders = sorted(media.glob("*"))
    if not folders:
        raise SystemExit(f"no analysis under {media}: run bench/bench_load.py first")
    folder = folders[-1]
    classes = class_colormap(default_class_colors(9))
    products: list[tuple[Path, dict]] = [(p, classes) for p in sorted(folder.glob("landcover_*.tif"))]
    products.append((folder / "change_count.tif", change_count_colormap()))
    tms = morecantile.tms.get("WebMercatorQuad")
    w, s, e, n = DEMO_BBOX
    tiles = [(t.z, t.x, t.y) for z in range(12, 16) for t in tms.tiles(w, s, e, n, [z])]

    def rio_tiler(path: Path, cmap: dict, z: int, x: int, y: int) -> bytes:
        with Reader(str(path)) as cog:
            img = cog.tile(x, y, z, tilesize=256)
        return img.render(img_format="PNG", colormap=cmap, add_mask=True)

    def xyz(path: Path, cmap: dict, z: int, x: int, y: int) -> bytes:
        img = read_xyz(path, z, x, y)
        assert img is not None
        return colour_values(img.data[0], img.valid, cmap)

    report: dict[str, object] = {"tiles": len(tiles) * len(products), "products": len(products)}
    for name, draw in (("rio_tiler", rio_tiler), ("ml_xyz", xyz)):
        times: list[float] = []
        sizes: list[int] = []
        for _ in range(2):
            times, sizes = [], []
            for path, cmap in products:
                for z, x, y in tiles:
                    t0 = time.process_time()
                    png = draw(path, cmap, z, x, y)
                    times.append((time.process_time() - t0) * 1e3)
                    sizes.append(len(png))
        report[name] = {
            "cpu_ms_mean": round(float(np.mean(times)), 2),
            "cpu_ms_p50": round(float(np.percentile(times, 50)), 2),
            "cpu_ms_p95": round(float(np.percentile(times, 95)), 2),
            "png_bytes_mean": round(float(np.mean(sizes))),
        }
    old, new = report["rio_tiler"], report["ml_xyz"]
    assert isinstance(old, dict) and isinstance(new, dict)
    report["speedup"] = round(old["cpu_ms_mean"] / new["cpu_ms_mean"], 2)
    print(json.dumps(report, indent=1))
    if args.record:
        from bench.results import Figure, record, this_command

        record(
            Figure(
                name="tile_render_cpu_ms",
                value=new["cpu_ms_mean"],
                unit="ms",
                goal="",
                title=f"CPU per map tile render (mean of {report['tiles']} demo tiles, z12-15; rio-tiler "
                f"{old['cpu_ms_mean']} ms, {report['speedup']}x)",
                command=this_command(),
                section="faults_security_load",
                details=report,
            )
        )
    return report


if __name__ == "__main__":
    main()
