#!/usr/bin/env bash
# Run every benchmark of bench/ in turn (as modules: `python -m bench.<name>`, from the repo root, so
# `ml`, `monitoring` and `testkit` import without path tricks); each prints its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/bench_*.py; do
  name="$(basename "$b" .py)"
  echo "== $name"
  DJANGO_SETTINGS_MODULE=webapp.settings.test .venv/bin/python -m "bench.$name"
done
