#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs `loid demo`. Arguments go to `loid demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Only what the demo needs: the loid executable (and the default encoder, converted once);
# scripts/test.sh builds the tests and benchmarks.
bash scripts/build.sh loid_cli
"${LOID_BUILD_DIR:-build}/loid" demo "$@"
