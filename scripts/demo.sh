#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs `loid demo`. Arguments go to `loid demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
"${LOID_BUILD_DIR:-build}/loid" demo "$@"
