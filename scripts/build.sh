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
