#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${LOID_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)"
