#!/usr/bin/env bash
# Run every benchmark of bench/ in turn; each prints its figures and the command to record.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/bench_*.py; do
  echo "== $b"
  DJANGO_SETTINGS_MODULE=webapp.settings.test .venv/bin/python "$b"
done
