#!/usr/bin/env bash
# Install the Debian/Ubuntu packages ESD Monitor needs. Usage: install-system.sh base|test
#   base: GDAL, GEOS, PROJ, SpatiaLite, and their headers: pysqlite3, rasterio, pyproj, pyogrio and
#         shapely are built against these system libraries (one copy of each in the process)
#   test: base + PostGIS for the local PostgreSQL 15 + Chromium and its driver for browser tests
set -euo pipefail
what="${1:-base}"
pkgs=(gdal-bin libgdal-dev libgeos-c1v5 libgeos-dev proj-bin libproj-dev libsqlite3-mod-spatialite libsqlite3-dev)
if [ "$what" = "test" ]; then
  pg_major=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
  pkgs+=("postgresql-${pg_major:-15}-postgis-3" chromium chromium-driver wrk)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present (${pkgs[*]})"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
