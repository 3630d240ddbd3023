"""Temporally consistent maps on the Mato Grosso demo: stability and accuracy before/after, and cost.

Runs the demo analysis (Mato Grosso 2007-2013, the 245 dtwSat labels of crop year 2011-12) once
through a real Celery worker (Redis broker, PostGIS database) with the pipeline defaults; its
classify windows keep every pixel-year's class probabilities. The maps are then rebuilt in-process
from those probabilities under several settings of the consistency step (``before`` = spatial
smoothing and temporal HMM both off = each year's own most probable class, what the pipeline
published before issue 19), and scored:

* stability over the whole AOI: A->B->A reversals per pixel (a class left for one year and come back
  to), share of pixels with >= 3 changes, share changing at least once, Forest area per year;
* per-year map accuracy at the real dtwSat labels of every crop year, and the change F1 of the maps
  at the labelled location-years of the other crop years (a year truly changed when its label
  differs from the location's 2011-12 label; predicted changed when the map's class does);
* the cost of the step per million pixel-years (synthetic probabilities, 10 years x 5 classes).

Settings are chosen **without the labels**: among the settings that meet the issue's stability
requirements on the whole AOI (reversals <= 0.10 per pixel, <= 5% of pixels with >= 3 changes,
Forest area within +-10% year to year; all label-free), the one that best keeps **spliced real
changes** on the **development half** of the AOI (the pixel columns left of the middle): each
development pixel's (smoothed)
probabilities up to a random year k, then those of another development pixel of another dominant
class from year k on (a lasting change at k, made of real observations); the score is the F1 of
"a change between k-1 and k" (recall: spliced changes found at the right year; precision: share of
all changes in the spliced series that are the spliced one). The pipeline's default is the setting
chosen this way. The spliced changes of the test half (right of the middle) and the accuracy at all
the labelled points (which played no part in the choice) are the held-out checks. Usage::

    DJANGO_SETTINGS_MODULE=webapp.settings.test .venv/bin/python -m bench.bench_temporal

Writes ``bench/results/temporal_*.json`` (through :func:`bench.results.record`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.test")
os.environ.setdefault("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/esd_temporal")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")
QUEUE = f"esd-bench-temporal-{uuid.uuid4().hex[:6]}"
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = QUEUE
WORK = Path(os.environ.get("ESD_BENCH_DIR", tempfile.mkdtemp(prefix="esd-bench-temporal-")))
os.environ["MEDIA_ROOT"] = str(WORK / "media")
STATIC_YEAR = 2012  # crop year of the static labels (Sep 2011 - Aug 2012)
SURE = 0.9  # a pixel-year the classifier is sure of: top class probability at least this
MAX_OVERRULED = 0.01  # the consistency step may change at most this share of the sure pixel-years


def ensure_database() -> None:
    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc"]
    exists = subprocess.run(
        [*psql, f"SELECT 1 FROM pg_database WHERE datname='{name}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run([*psql, f"CREATE DATABASE {name}"], check=True, capture_output=True)


# --- figures --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stability:
    """How much a class-map series moves (pixels classified in every year only)."""

    pixels: int  # pixels classified in every year
    reversals_per_pixel: float  # A->B->A triples of consecutive years, per pixel
    share_3plus_changes: float  # share of pixels with >= 3 year-to-year changes
    share_changed: float  # share of pixels that change at least once
    share_changing_per_year: float  # mean share of pixels changing between two consecutive years
    forest_ha: list[float]  # Forest area per year
    forest_max_step: float  # largest |year-to-year relative change| of the Forest area
    forest_ever: int  # pixels Forest in some year
    forest_always: int  # pixels Forest in every year


def stability(classes: np.ndarray, forest: int, pixel_ha: float) -> Stability:
    """``classes (Y, H, W)`` uint8 (255 = no data) -> :class:`Stability`."""
    c = classes.reshape(classes.shape[0], -1)
    c = c[:, (c != 255).all(axis=0)]
    ch = c[1:] != c[:-1]  # (Y-1, N)
    rev = (c[2:] == c[:-2]) & (c[1:-1] != c[:-2])
    n_ch = ch.sum(axis=0)
    area = [(c[t] == forest).sum() * pixel_ha for t in range(c.shape[0])]
    steps = [abs(b - a) / a for a, b in zip(area, area[1:], strict=False) if a > 0]
    return Stability(
        pixels=int(c.shape[1]),
        reversals_per_pixel=round(float(rev.sum() / c.shape[1]), 4),
        share_3plus_changes=round(float((n_ch >= 3).mean()), 4),
        share_changed=round(float((n_ch >= 1).mean()), 4),
        share_changing_per_year=round(float(ch.mean()), 4),
        forest_ha=[round(float(a), 1) for a in area],
        forest_max_step=round(float(max(steps)) if steps else 0.0, 4),
        forest_ever=int((c == forest).any(axis=0).sum()),
        forest_always=int((c == forest).all(axis=0).sum()),
    )


@dataclass(frozen=True)
class LabelPixels:
    """The dtwSat labelled points as grid pixels."""

    loc: np.ndarray  # (P,) location id
    year: np.ndarray  # (P,) crop year end
    group: np.ndarray  # (P,) true class
    row: np.ndarray  # (P,) grid row (-1 outside)
    col: np.ndarray  # (P,) grid column


def label_pixels(grid: Any, shared: Path) -> LabelPixels:
    from rasterio.transform import rowcol
    from rasterio.warp import transform

    from testkit.mato_grosso import mt_points

    frame = mt_points(shared)
    xs, ys = transform("EPSG:4326", grid.crs, list(frame.geometry.x), list(frame.geometry.y))
    rows, cols = rowcol(grid.affine, xs, ys)
    rows, cols = np.asarray(rows), np.asarray(cols)
    inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    return LabelPixels(
        np.asarray(frame["loc"]),
        np.asarray(frame["year"]),
        np.asarray(frame["group"]),
        np.where(inside, rows, -1),
        np.where(inside, cols, -1),
    )


def accuracy(classes: np.ndarray, years: list[int], names: list[str], lp: LabelPixels) -> dict[str, Any]:
    """Per-year map OA at the labelled points and the change F1 at the other years' labels."""
    from ml.eval.dynamic_eval import score_dynamic

    keep = lp.row >= 0
    per_year: dict[int, dict[str, float]] = {}
    pred: dict[tuple[str, int], str] = {}
    for i in np.nonzero(keep)[0]:
        if lp.year[i] not in years:
            continue
        v = int(classes[years.index(int(lp.year[i])), lp.row[i], lp.col[i]])
        if v < len(names):
            pred[(str(lp.loc[i]), int(lp.year[i]))] = names[v]
    for year in years:
        idx = [i for i in np.nonzero(keep & (lp.year == year))[0] if (str(lp.loc[i]), year) in pred]
        if idx:
            hits = sum(pred[(str(lp.loc[i]), year)] == lp.group[i] for i in idx)
            per_year[year] = {"n": len(idx), "oa": round(hits / len(idx), 4)}
    static = {str(lp.loc[i]): str(lp.group[i]) for i in np.nonzero(keep & (lp.year == STATIC_YEAR))[0]}
    truth = {
        (str(lp.loc[i]), int(lp.year[i])): str(lp.group[i])
        for i in np.nonzero(keep & (lp.year != STATIC_YEAR))[0]
        if str(lp.loc[i]) in static
    }
    change = score_dynamic(pred, truth, static).as_dict()
    oas = [v["oa"] for v in per_year.values()]
    return {"per_year": per_year, "mean_oa": round(float(np.mean(oas)), 4), "change": change}


@dataclass(frozen=True)
class SplicePairs:
    """Spliced series: pixel ``base`` up to year ``k - 1``, pixel ``donor`` from year ``k`` on."""

    base: np.ndarray  # (P,) flat pixel index
    donor: np.ndarray  # (P,) flat pixel index of another dominant class
    k: np.ndarray  # (P,) year index of the spliced change, 1 .. Y - 1


def splice_pairs(raw: np.ndarray, valid: np.ndarray, half: np.ndarray, seed: int) -> SplicePairs:
    """One spliced series per pixel of ``half`` observed in every year (``raw (Y, H, W)`` classes)."""
    n_years = raw.shape[0]
    flat = raw.reshape(n_years, -1)
    pix = np.nonzero(valid.all(axis=0).ravel() & half.ravel())[0]
    dominant = np.array([np.bincount(flat[:, i]).argmax() for i in pix])
    rng = np.random.default_rng(seed)
    base, donor, ks = [], [], []
    for n, i in enumerate(pix):
        others = pix[dominant != dominant[n]]
        if others.size:
            base.append(i)
            donor.append(rng.choice(others))
            ks.append(rng.integers(1, n_years))
    return SplicePairs(np.array(base), np.array(donor), np.array(ks))


def splice_score(
    smoothed: np.ndarray, pairs: SplicePairs, transitions: np.ndarray, cfg: Any
) -> dict[str, float]:
    """Recall, precision and F1 of the spliced change (a change between years k - 1 and k)."""
    from ml.temporal import make_consistent

    n_years, n_classes = smoothed.shape[:2]
    flat = smoothed.reshape(n_years, n_classes, -1)
    years = np.arange(n_years)[:, None]  # (Y, 1)
    take_donor = years >= pairs.k[None]  # (Y, P)
    p = np.where(take_donor[:, None], flat[:, :, pairs.donor], flat[:, :, pairs.base])  # (Y, C, P)
    out = make_consistent(p, np.ones((n_years, p.shape[2]), bool), transitions, cfg).classes
    changes = out[1:] != out[:-1]  # (Y - 1, P); row t is the change from year t to t + 1
    found = changes[pairs.k - 1, np.arange(p.shape[2])]
    recall = float(found.mean())
    precision = float(found.sum() / changes.sum()) if changes.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pairs": int(p.shape[2]),
        "recall": round(recall, 4),
        "precision": round(precision, 4),
        "f1": round(f1, 4),
    }


# --- the analysis --------------------------------------------------------------------------------------------


def run_demo(worker: Any) -> Any:
    from django.contrib.auth import get_user_model

    from monitoring.services.analyses import analysis_create
    from monitoring.services.aois import aoi_create
    from monitoring.services.labels import labelset_import
    from testkit import SHARED_DATA
    from testkit.mato_grosso import static_labels_csv

    owner, _ = get_user_model().objects.get_or_create(username=f"bench-{uuid.uuid4().hex[:6]}")
    w, s, e, n = -55.99, -12.05, -55.91, -11.99  # the demo AOI of tests/monitoring/test_pipeline.py
    geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    aoi, _ = aoi_create(owner=owner, name="MT demo", geometry=geom)
    labels, _ = labelset_import(
        owner=owner, name="MT 2011-12", filename="labels.csv", content=static_labels_csv(SHARED_DATA)
    )
    t0 = time.perf_counter()
    analysis = analysis_create(
        owner=owner, aoi=aoi, label_set=labels, start_year=2007, end_year=2013, parameters={}
    )
    while True:
        analysis.refresh_from_db()
        if analysis.status in ("done", "failed", "cancelled"):
            break
        time.sleep(0.2)
    if analysis.status != "done":
        raise SystemExit(f"analysis {analysis.status}: {analysis.error_message}")
    print(f"analysis done in {time.perf_counter() - t0:.1f} s: {json.dumps(analysis.timings)}", flush=True)
    return analysis


def cost(repeats: int = 3) -> dict[str, float]:
    """Seconds per million pixel-years of the HMM alone and with smoothing (10 years x 5 classes)."""
    from ml.smoothing import SmoothingConfig
    from ml.temporal import TemporalConfig, estimate_transitions, make_consistent_grid

    rng = np.random.default_rng(0)
    n_years, n_classes, side = 10, 5, 316  # 998,560 pixel-years
    probs = rng.dirichlet(np.ones(n_classes) * 0.5, size=(n_years, side, side)).transpose(0, 3, 1, 2)
    probs = probs.astype(np.float16)
    valid = np.ones((n_years, side, side), dtype=bool)
    a = estimate_transitions(np.zeros((0, 2), dtype=int), n_classes)
    out = {}
    for name, smooth in (("hmm", False), ("hmm_and_smoothing", True)):
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            make_consistent_grid(probs, valid, a, TemporalConfig(), SmoothingConfig(enabled=smooth))
            best = min(best, time.perf_counter() - t0)
        out[name] = round(best / (n_years * side * side / 1e6), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not write bench/results")
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    from ml.esd.encode import encode_demo
    from ml.smoothing import SmoothingConfig, smooth_series
    from ml.temporal import TemporalConfig, make_consistent_grid
    from monitoring.services.pipeline.classify import mosaic
    from monitoring.services.pipeline.temporal import consistent_maps, sample_transitions
    from monitoring.storage.inputs import AnalysisInputs
    from monitoring.storage.paths import analysis_dir
    from testkit import SHARED_DATA
    from testkit.workers import start_worker, stop_worker
    from webapp.celery import app

    call_command("migrate", verbosity=0)
    app.conf.task_default_queue = QUEUE
    encode_demo(WORK / "stores", names=["mt-dtwsat"], shared=SHARED_DATA)
    from monitoring.services.esd_catalog import esd_index

    esd_index(location=str(WORK / "stores" / "mt-dtwsat"))
    worker = start_worker(dict(os.environ), QUEUE, WORK / "worker.log")
    try:
        analysis = run_demo(worker)
    finally:
        stop_worker(worker)

    import rasterio

    inputs = AnalysisInputs(analysis)
    names, years, grid = inputs.class_names, inputs.years, inputs.grid
    published = np.stack(
        [rasterio.open(analysis_dir(analysis.pk) / f"landcover_{y}.tif").read(1) for y in years]
    )
    assert np.array_equal(published, consistent_maps(inputs)["classes"]), "COGs are not the consistent maps"
    probs = mosaic(inputs, "probs", (len(years), len(names)), np.float16, np.nan)
    inside = grid.aoi_mask(inputs.aoi_geometry)
    valid = ~np.isnan(probs).any(axis=1) & inside[None]
    pixel_ha = abs(grid.affine.a * grid.affine.e) / 1e4
    forest = names.index("Forest")
    lp = label_pixels(grid, SHARED_DATA)

    default_t, default_s = TemporalConfig(), SmoothingConfig()
    off_t, off_s = replace(default_t, enabled=False), replace(default_s, enabled=False)
    on_s = SmoothingConfig(enabled=True)
    candidates: list[tuple[str, TemporalConfig, SmoothingConfig]] = [
        ("before (smoothing and HMM off)", off_t, off_s),
        ("smoothing only (w3/s10)", off_t, on_s),
        ("HMM only (pipeline default)", default_t, off_s),
    ]
    for odds in (0.5, 0.14, 0.04, 0.01):  # with 5 classes: prior P(stay) 0.33, 0.64, 0.86, 0.96
        for share in (0.3, 0.6, 0.8, 1.0):
            for temperature in (1.0, 1.5, 2.0):
                for min_conf in (0.0, 0.9):
                    for smooth in (off_s, on_s):
                        sm = f"w{smooth.window}/s{smooth.smoothness:g}" if smooth.enabled else "off"
                        candidates.append(
                            (
                                f"switch_odds={odds} prior_share={share} temperature={temperature} "
                                f"min_confidence={min_conf} smoothing={sm}",
                                TemporalConfig(
                                    switch_odds=odds,
                                    prior_share=share,
                                    temperature=temperature,
                                    min_confidence=min_conf,
                                ),
                                smooth,
                            )
                        )
    halves = {"dev": np.zeros(inside.shape, bool), "test": np.zeros(inside.shape, bool)}
    halves["dev"][:, : grid.width // 2] = True
    halves["test"][:, grid.width // 2 :] = True
    raw = np.where(valid, np.nan_to_num(probs, nan=-1.0).argmax(axis=1), 255).astype(np.uint8)
    pairs = {h: splice_pairs(raw, valid, m, seed=0) for h, m in halves.items()}
    # label-free stand-in for "per-year accuracy does not drop": the pixel-years the classifier is sure
    # of (top probability >= 0.9; the map classifier's cross-validated accuracy is highest there)
    top = np.nanmax(np.nan_to_num(probs.astype(np.float32), nan=-1.0), axis=1)
    sure = valid & (top >= SURE)
    rows = []
    for label, tcfg, scfg in candidates:
        a = sample_transitions(inputs, tcfg)
        t0 = time.perf_counter()
        out = make_consistent_grid(probs, valid, a, tcfg, scfg)
        seconds = time.perf_counter() - t0
        smoothed = smooth_series(probs, valid, scfg)
        row: dict[str, Any] = {
            "setting": label,
            "temporal": asdict(tcfg),
            "smoothing": asdict(scfg),
            "is_default": tcfg == default_t and scfg == default_s,
            "seconds": round(seconds, 3),
            "stability": asdict(stability(out.classes, forest, pixel_ha)),
            "labels": accuracy(out.classes, years, names, lp),
            "overruled_sure": round(float((out.classes[sure] != raw[sure]).mean()), 4),
        }
        for h, m in halves.items():
            row[h] = {
                "stability": asdict(stability(np.where(m[None], out.classes, 255), forest, pixel_ha)),
                "splice": splice_score(smoothed, pairs[h], a, tcfg),
            }
        rows.append(row)
        d = row["dev"]
        print(
            f"{label:58s} dev splice F1 {d['splice']['f1']:.3f} (R {d['splice']['recall']:.3f}) | "
            f"rev {d['stability']['reversals_per_pixel']:.3f} 3+ {d['stability']['share_3plus_changes']:.3f} "
            f"forest step {d['stability']['forest_max_step']:.3f} | overruled sure {row['overruled_sure']:.4f} | "
            f"labels mean OA {row['labels']['mean_oa']:.4f}",
            flush=True,
        )

    def meets(st: dict[str, Any]) -> bool:
        return (
            st["reversals_per_pixel"] <= 0.10
            and st["share_3plus_changes"] <= 0.05
            and st["forest_max_step"] <= 0.10
        )

    def shortfall(st: dict[str, Any]) -> float:
        """Worst ratio of a stability figure to its target (<= 1: all three met)."""
        return max(
            st["reversals_per_pixel"] / 0.10, st["share_3plus_changes"] / 0.05, st["forest_max_step"] / 0.10
        )

    # selection rule (label-free; fixed before the third run): only settings that overrule at most
    # MAX_OVERRULED of the classifier's sure pixel-years (stand-in for "no per-year accuracy loss over
    # 1 point"); among them, those meeting the issue's stability requirements on the whole AOI, best
    # spliced-change F1 on the dev half; if none meets them, the smallest shortfall (ties: dev F1)
    guarded = [r for r in rows[3:] if r["overruled_sure"] <= MAX_OVERRULED] or rows[3:]
    ok = [r for r in guarded if meets(r["stability"])]
    if ok:
        best = max(
            ok, key=lambda r: (r["dev"]["splice"]["f1"], -r["dev"]["stability"]["reversals_per_pixel"])
        )
    else:
        best = min(guarded, key=lambda r: (round(shortfall(r["stability"]), 3), -r["dev"]["splice"]["f1"]))
    print(
        "chosen:", best["setting"], "(the default)" if best["is_default"] else "(NOT the default)", flush=True
    )
    costs = cost()
    print("cost s per million pixel-years:", costs, flush=True)
    before = rows[0]
    after = next(r for r in rows if r["is_default"])
    report = {
        "rows": [{k: v for k, v in r.items()} for r in rows],
        "chosen": best["setting"],
        "chosen_is_default": best["is_default"],
        "guarded": len(guarded),
        "meeting_stability": [r["setting"] for r in rows[3:] if meets(r["stability"])],
        "cost": costs,
        "timings": analysis.timings,
    }
    (WORK / "temporal_details.json").write_text(json.dumps(report, indent=1) + "\n")
    print("details in", WORK / "temporal_details.json")
    summary = {
        tag: {
            "stability": row["stability"],
            "labels": row["labels"],
            "splice_test": row["test"]["splice"],
            "splice_dev": row["dev"]["splice"],
            "overruled_sure": row["overruled_sure"],
        }
        for tag, row in (("before", before), ("after", after))
    }
    print(json.dumps(summary, indent=1))
    if args.no_write:
        return
    from bench.results import Figure, record

    command = "DJANGO_SETTINGS_MODULE=webapp.settings.test .venv/bin/python -m bench.bench_temporal"
    deltas = [after["labels"]["per_year"][y]["oa"] - v["oa"] for y, v in before["labels"]["per_year"].items()]

    def fig(name: str, value: float, unit: str, goal: str, title: str, details: Any = None) -> Figure:
        return Figure(
            name=name,
            value=round(float(value), 4),
            unit=unit,
            goal=goal,
            title=title,
            command=command,
            section="temporal",
            details=details or {},
        )

    sa, sb = after["stability"], before["stability"]
    record(
        fig("temporal_cost_hmm", costs["hmm"], "s", "", "Temporal HMM, seconds per million pixel-years"),
        fig(
            "temporal_cost_hmm_smoothing",
            costs["hmm_and_smoothing"],
            "s",
            "",
            "Temporal HMM + spatial smoothing, seconds per million pixel-years",
        ),
        fig(
            "temporal_reversals",
            sa["reversals_per_pixel"],
            "per pixel",
            "<= 0.10",
            f"MT demo A->B->A reversals per pixel, 7 years (before {sb['reversals_per_pixel']})",
        ),
        fig(
            "temporal_3plus_changes",
            100 * sa["share_3plus_changes"],
            "%",
            "<= 5",
            f"MT demo pixels with >= 3 changes (before {100 * sb['share_3plus_changes']:.1f}%)",
        ),
        fig(
            "temporal_forest_step",
            100 * sa["forest_max_step"],
            "%",
            "<= 10",
            f"MT demo largest year-to-year Forest area change (before {100 * sb['forest_max_step']:.1f}%)",
            {"forest_ha_after": sa["forest_ha"], "forest_ha_before": sb["forest_ha"]},
        ),
        fig(
            "temporal_map_oa_worst_delta",
            100 * min(deltas),
            "points",
            ">= -1",
            "MT demo per-year map OA at dtwSat labels, worst year after - before",
            {"before": before["labels"]["per_year"], "after": after["labels"]["per_year"]},
        ),
        fig(
            "temporal_overruled_sure",
            100 * after["overruled_sure"],
            "%",
            f"<= {100 * MAX_OVERRULED:g}",
            f"MT demo pixel-years the classifier is sure of (p >= {SURE}) that the step changes (label-free guard)",
        ),
        fig(
            "temporal_change_f1",
            after["labels"]["change"]["change_f1"],
            "F1",
            "",
            f"MT demo map change F1 at labelled changed location-years (before {before['labels']['change']['change_f1']})",
            {"before": before["labels"]["change"], "after": after["labels"]["change"]},
        ),
        fig(
            "temporal_splice_f1",
            after["test"]["splice"]["f1"],
            "F1",
            "",
            f"MT demo spliced real changes, test half: F1 of the change year (before {before['test']['splice']['f1']})",
            {"before": before["test"]["splice"], "after": after["test"]["splice"]},
        ),
    )
    print("wrote bench/results/temporal_*.json")


if __name__ == "__main__":
    main()
