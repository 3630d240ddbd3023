"""Files users download: dynamic samples (GeoJSON, CSV, GeoPackage) and statistics (JSON, CSV)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import Point

from ml.atomic import atomic_path, write_bytes_atomic
from monitoring.models import Analysis, DynamicSample
from monitoring.storage.inputs import AnalysisInputs

SAMPLE_COLUMNS = [
    "label_id",
    "row",
    "lon",
    "lat",
    "year",
    "static_class",
    "reference_year",
    "dynamic_class",
    "changed",
    "anomaly_score",
    "confidence",
    "top_bands",
    "top_months",
    "review_reason",
    "suggested_class",
    "reviewed_class",
]


def sample_records(analysis: Analysis) -> list[dict[str, Any]]:
    """One flat record per dynamic sample (label and year), in label then year order.

    ``reference_year`` is the store year the pipeline gave the label's date (crop years Sep->Aug:
    2011-09-01 is store year 2012), the year whose class is the label's own. ``review_reason`` says
    why the sample is in the review queue (``label_may_be_wrong``: TasGen disagrees with the label in
    its own year and ``suggested_class`` is what it saw there); ``reviewed_class`` a reviewer's answer.
    """
    reference_year = AnalysisInputs(analysis).reference_year
    rows = []
    qs = (
        DynamicSample.objects.filter(analysis=analysis)
        .select_related("label")
        .order_by("label__row", "label_id", "year")
    )
    for s in qs:
        att = s.attribution or {}
        rows.append(
            {
                "label_id": s.label_id,
                "row": s.label.row,
                "lon": round(s.geometry.x, 7),
                "lat": round(s.geometry.y, 7),
                "year": s.year,
                "static_class": s.static_class,
                "reference_year": reference_year(s.label),
                "dynamic_class": s.dynamic_class,
                "changed": s.changed,
                "anomaly_score": round(s.anomaly_score, 4),
                "confidence": round(s.confidence, 4),
                "top_bands": " ".join(att.get("top_bands", [])),
                "top_months": " ".join(att.get("top_months", [])),
                "review_reason": s.review_reason,
                "suggested_class": s.suggested_class,
                "reviewed_class": (s.label.corrected_class or {}).get(str(s.year), ""),
            }
        )
    return rows


def samples_csv(records: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SAMPLE_COLUMNS)
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue().encode()


def samples_geojson(records: list[dict[str, Any]]) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
            "properties": {k: v for k, v in r.items() if k not in {"lon", "lat"}},
        }
        for r in records
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def samples_gpkg(records: list[dict[str, Any]], path: Path) -> None:
    frame = gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k not in {"lon", "lat"}} for r in records] or None,
        columns=[c for c in SAMPLE_COLUMNS if c not in {"lon", "lat"}],
        geometry=[Point(r["lon"], r["lat"]) for r in records],
        crs="EPSG:4326",
    )
    with atomic_path(path, suffix=".tmp.gpkg") as tmp:
        frame.to_file(tmp, driver="GPKG", layer="dynamic_samples", engine="pyogrio")


STATS_COLUMNS = [
    "table",
    "year",
    "to_year",
    "from_class",
    "to_class",
    "hectares",
    "measure",
    "estimate",
    "ci95_half_width",
    "samples",
]
# what each ``table`` value of the statistics CSV holds (also written in docs/user_guide.md)
AGREEMENT_TABLE = "agreement_with_labels_grouped_cv"  # map vs the user's labels at their reference years
AGREEMENT_MATRIX = "agreement_with_labels_grouped_cv_matrix"  # from_class predicted, to_class labelled
VALIDATION_TABLE = "validation_area_adjusted"  # Olofsson et al. 2014 estimates from a validation set
VALIDATION_MATRIX = "validation_error_matrix"  # from_class on the map, to_class in the validation label


def stats_csv(stats: dict[str, Any]) -> bytes:
    """The statistics as one long table; the ``table`` column says what each row is.

    ``area``: hectares per class per year; ``transition``: hectares from -> to between two years;
    ``agreement_with_labels_grouped_cv``: agreement of the map classifier with the user's own labels at
    their reference years (spatially grouped cross-validation; sample counts, not area-weighted);
    ``validation_area_adjusted``: accuracy and error-adjusted areas with 95% confidence half-widths
    from a validation label set (Olofsson et al. 2014); ``*_matrix`` rows: sample counts.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=STATS_COLUMNS)
    writer.writeheader()
    areas = stats.get("areas", {})
    for year, row in zip(areas.get("years", []), areas.get("area_ha", []), strict=False):
        for cls, ha in row.items():
            writer.writerow({"table": "area", "year": year, "from_class": cls, "hectares": ha})
    classes = areas.get("classes", [])
    for t in areas.get("transitions", []):
        for i, row in enumerate(t["matrix_ha"]):
            for j, ha in enumerate(row):
                if ha:
                    writer.writerow(
                        {
                            "table": "transition",
                            "year": t["from_year"],
                            "to_year": t["to_year"],
                            "from_class": classes[i],
                            "to_class": classes[j],
                            "hectares": ha,
                        }
                    )
    writer.writerows(_agreement_rows(stats.get("accuracy") or {}))
    writer.writerows(_validation_rows(stats.get("validation") or {}))
    return buf.getvalue().encode()


def _agreement_rows(acc: dict[str, Any]) -> list[dict[str, Any]]:
    if acc.get("method") != "reference_grouped_cv" or acc.get("oa") is None:
        return []
    n = acc.get("n_samples", "")
    rows: list[dict[str, Any]] = [
        {"table": AGREEMENT_TABLE, "measure": "overall_agreement", "estimate": acc["oa"], "samples": n},
        {"table": AGREEMENT_TABLE, "measure": "kappa", "estimate": acc.get("kappa"), "samples": n},
    ]
    for key, measure in (("users", "users_agreement"), ("producers", "producers_agreement")):
        for cls, v in (acc.get(key) or {}).items():
            rows.append({"table": AGREEMENT_TABLE, "measure": measure, "from_class": cls, "estimate": v})
    classes = acc.get("classes", [])
    for i, row in enumerate(acc.get("confusion", [])):
        for j, count in enumerate(row):
            if count:
                rows.append(
                    {
                        "table": AGREEMENT_MATRIX,
                        "from_class": classes[i],
                        "to_class": classes[j],
                        "samples": count,
                    }
                )
    return rows


def _validation_rows(validation: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for a in validation.get("assessments", []):
        year, t = a["year"], VALIDATION_TABLE
        o = a["overall"]
        rows.append(
            {
                "table": t,
                "year": year,
                "measure": "overall_accuracy",
                "estimate": o["value"],
                "ci95_half_width": o["ci95"],
                "samples": a["n_samples"],
            }
        )
        rows.append(
            {
                "table": t,
                "year": year,
                "measure": "mapped_area_share_described",
                "estimate": a.get("coverage"),
            }
        )
        for c in a["per_class"]:
            described = (
                ()
                if c.get("left_out")
                else (
                    ("users", "users_accuracy"),
                    ("producers", "producers_accuracy"),
                    ("area", "area_adjusted_ha"),
                )
            )
            for key, measure in described:
                e = c[key]
                rows.append(
                    {
                        "table": t,
                        "year": year,
                        "from_class": c["class"],
                        "hectares": e["value"] if key == "area" else "",
                        "measure": measure,
                        "estimate": e["value"],
                        "ci95_half_width": e["ci95"],
                        "samples": c["n_map"] if key == "users" else "",
                    }
                )
            rows.append(
                {
                    "table": t,
                    "year": year,
                    "from_class": c["class"],
                    "hectares": c["mapped_area"],
                    "measure": "area_mapped_ha",
                    "estimate": c["mapped_area"],
                }
            )
        classes = a["classes"]
        for i, row in enumerate(a["error_matrix"]):
            for j, count in enumerate(row):
                if count:
                    rows.append(
                        {
                            "table": VALIDATION_MATRIX,
                            "year": year,
                            "from_class": classes[i],
                            "to_class": classes[j],
                            "samples": count,
                        }
                    )
    return rows


def write_exports(analysis: Analysis, folder: Path, stats: dict[str, Any]) -> None:
    """Write samples.{geojson,csv,gpkg} and stats.{json,csv} into ``folder`` (atomic, idempotent)."""
    records = sample_records(analysis)
    write_bytes_atomic(folder / "samples.csv", samples_csv(records))
    write_bytes_atomic(folder / "samples.geojson", samples_geojson(records))
    samples_gpkg(records, folder / "samples.gpkg")
    write_bytes_atomic(folder / "stats.json", json.dumps(stats, indent=1).encode())
    write_bytes_atomic(folder / "stats.csv", stats_csv(stats))
