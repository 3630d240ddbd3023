"""Apply reviews on the Mato Grosso demo: seconds from the "Apply reviews" call to the new maps.

The demo analysis runs once through one real Celery worker (Redis, PostGIS). Then, ``--rounds`` times,
a reviewer answers the next 10 items of the review queue through the API (half confirmed, half
corrected to a new class "Soybean-maize") and applies the reviews; the figure is the wall time from the
apply call to the new analysis being ``done`` with its land-cover maps (what the page then shows).
Each round has new answers, so its relabeling is never a cache hit; the lookups and the TasGen fit
are (that is the point). Usage::

    DJANGO_SETTINGS_MODULE=webapp.settings.test .venv/bin/python -m bench.bench_apply_reviews
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
from bench import bench_analysis as base  # noqa: E402  (sets the database, queue and media folder)


def wait_done(client, pk: int, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/analyses/{pk}/").json()
        if body["status"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.05)
    raise RuntimeError(f"analysis {pk} not done after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base.ensure_database()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from ml.esd.encode import encode_demo
    from testkit import SHARED_DATA
    from testkit.mato_grosso import static_labels_csv
    from testkit.workers import start_worker, stop_worker
    from webapp.celery import app

    call_command("migrate", verbosity=0)
    app.conf.task_default_queue = base.QUEUE
    stores = base.WORK / "stores"
    encode_demo(stores, names=["mt-dtwsat"], shared=SHARED_DATA)
    owner, _ = get_user_model().objects.get_or_create(username=f"bench-{uuid.uuid4().hex[:6]}")
    client = APIClient()
    client.force_authenticate(owner)
    worker = start_worker(dict(os.environ), base.QUEUE, base.WORK / "worker.log")
    rounds = []
    try:
        analysis, first = base.run_one(
            "MT demo", owner, stores / "mt-dtwsat", static_labels_csv(SHARED_DATA), (2007, 2013), {}, worker
        )
        if first["status"] != "done":
            raise RuntimeError(f"the demo analysis failed: {first['error']}")
        created = client.post(
            f"/api/labelsets/{analysis.label_set_id}/classes/", {"name": "Soybean-maize"}, format="json"
        )
        assert created.status_code == 201, created.json()
        pk = analysis.pk
        for k in range(args.rounds):
            queue = client.get(f"/api/analyses/{pk}/review/", {"status": "unreviewed", "limit": "10"}).json()
            for i, item in enumerate(queue["results"]):
                klass = item["dynamic_class"] if i % 2 == 0 else "Soybean-maize"
                saved = client.post(
                    f"/api/analyses/{pk}/reviews/", {"samples": [item["id"]], "klass": klass}, format="json"
                )
                assert saved.status_code == 200, saved.json()
            t0 = time.perf_counter()
            applied = client.post(f"/api/analyses/{pk}/apply-reviews/")
            assert applied.status_code == 201, applied.json()
            body = wait_done(client, applied.json()["id"])
            wall = time.perf_counter() - t0
            if body["status"] != "done":
                raise RuntimeError(f"apply round {k} ended {body['status']}: {body['error_message']}")
            assert any(p["kind"] == "landcover" for p in body["products"])
            rounds.append(
                {
                    "round": k + 1,
                    "answers": queue["counts"]["reviewed"] + len(queue["results"]),
                    "queue_counts": queue["counts"],
                    "wall_s": round(wall, 2),
                    "stage_s": body["timings"],
                }
            )
            pk = body["id"]
    finally:
        stop_worker(worker)
    value = statistics.median(r["wall_s"] for r in rounds)
    print(json.dumps({"first_run": first, "rounds": rounds, "median_s": value}, indent=1, default=str))
    from bench.results import Figure, record, this_command

    record(
        Figure(
            name="apply_reviews",
            value=round(value, 2),
            unit="s",
            goal="<= 10",
            title="Apply reviews on the demo analysis: click to new maps (median of rounds), one worker",
            command=this_command(),
            section="review",
            details={"rounds": rounds, "first_run_s": first["wall_s"], "first_run_stage_s": first["stage_s"]},
        )
    )


if __name__ == "__main__":
    main()
