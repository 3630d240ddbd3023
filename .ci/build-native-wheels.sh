#!/usr/bin/env bash
# Build the wheels of the packages that must link the system GDAL/PROJ/GEOS/SQLite (requirements.txt's
# --no-binary line), two at a time, so `make venv` on a fresh machine does not compile them one after
# the other on one core. Usage: build-native-wheels.sh PYTHON OUTDIR
#
# Why these flags: a fresh `make run` spent most of its time compiling Cython output (rasterio alone:
# 348 s of CPU with the interpreter's default `-g -O3`, 152 s with `-g0 -O1`). These modules are thin
# wrappers around GDAL/GEOS/PROJ calls, so full optimisation and debug info buy nothing at run time;
# `tests/test_geo_stack.py` checks the result links the system libraries.
set -euo pipefail
py="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
req="$here/../requirements.txt"
mkdir -p "$out"
export CFLAGS="${CFLAGS:--g0 -O1}" CXXFLAGS="${CXXFLAGS:--g0 -O1}"
# One spec per package from requirements.txt (comments stripped); the slowest build first.
specs=()
for name in rasterio pyogrio pyproj shapely pysqlite3; do
  spec=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$req" | grep -E "^${name}([<>=!~]|$)" | head -1)
  [ -n "$spec" ] || { echo "build-native-wheels: $name missing from requirements.txt" >&2; exit 1; }
  specs+=("$spec")
done
build() {
  local spec="$1" name="${1%%[<>=!~]*}" extra=()
  # pyproj 3.6 does not build with Cython >= 3.1 (see build-constraints.txt).
  [ "$name" = pyproj ] && extra=(--build-constraint "$here/build-constraints.txt")
  if ls "$out"/"${name}"-*.whl >/dev/null 2>&1; then echo "native wheel $name: already built"; return 0; fi
  "$py" -m pip -q --disable-pip-version-check wheel --no-deps --no-binary "$name" "${extra[@]}" \
    -w "$out" "$spec" && echo "native wheel $name: built"
}
export -f build
export py out here
printf '%s\n' "${specs[@]}" | xargs -P "${NATIVE_BUILD_JOBS:-2}" -I{} bash -c 'build "$@"' _ {}
