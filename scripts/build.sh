#!/usr/bin/env bash
# Configures and builds the project into $LOID_BUILD_DIR (default build/, Release).
# Arguments, if any, are the targets to build (loid_cli, loid_tests, loid_nn_tests, loid_bench).
# LOID_TORCH_DIR picks the libtorch: a directory holding TorchConfig.cmake (a libtorch's
# share/cmake/Torch), or the word `python` for the one inside python3's torch package (a CUDA
# libtorch on GPU machines). Unset: the system's (Debian's libtorch 1.13), as before.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${LOID_BUILD_DIR:-build}"
torch_args=()
if [ -n "${LOID_TORCH_DIR:-}" ]; then
  torch_dir="$LOID_TORCH_DIR"
  if [ "$torch_dir" = python ]; then
    torch_dir=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')/Torch || {
      echo "build: LOID_TORCH_DIR=python but python3 cannot import torch" >&2
      exit 1
    }
  fi
  if [ ! -f "$torch_dir/TorchConfig.cmake" ]; then
    echo "build: LOID_TORCH_DIR: no TorchConfig.cmake in $torch_dir (expected a libtorch's share/cmake/Torch)" >&2
    exit 1
  fi
  torch_args=("-DTorch_DIR=$torch_dir")
fi
# Configure when there is no build yet, or when a libtorch is named (a changed Torch_DIR must
# reach the cache; cmake keeps the rest of it).
if [ ! -f "$BUILD_DIR/build.ninja" ] || [ "${#torch_args[@]}" -gt 0 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${torch_args[@]}"
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
