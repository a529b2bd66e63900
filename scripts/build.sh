#!/usr/bin/env bash
# Configures and builds the project into $LOID_BUILD_DIR (default build/, Release).
# Arguments, if any, are the targets to build (loid_cli, loid_tests, loid_nn_tests, loid_bench).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${LOID_BUILD_DIR:-build}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
if [ "$#" -gt 0 ]; then
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "$@"
else
  cmake --build "$BUILD_DIR" -j "$(nproc)"
fi

# The default encoder (USE-Lite) is converted in C++ from the npm package that setup.sh fetched,
# once, into models/ (or $LOID_MODELS_DIR); nothing is downloaded at run time.
models_dir="${LOID_MODELS_DIR:-models}"
# Whenever the loid executable was built (all targets, or loid_cli named).
built_cli=1
if [ "$#" -gt 0 ]; then
  built_cli=0
  for t in "$@"; do [ "$t" = loid_cli ] && built_cli=1; done
fi
if [ "$built_cli" -eq 1 ] && [ ! -f "$models_dir/use_lite/config.json" ]; then
  echo "build: installing the default encoder into $models_dir/use_lite"
  "$BUILD_DIR/loid" models install
fi
