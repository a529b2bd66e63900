#!/usr/bin/env bash
# Builds the torch-free library (loid_base) and its tests (loid_tests) with g++'s AddressSanitizer
# and UndefinedBehaviorSanitizer into $LOID_ASAN_BUILD_DIR (default build-asan/) and runs them
# through CTest. The suite replays the committed fuzz corpora (safetensors, request parser, review
# reader) through the parsers, so this is also the sanitized replay of those corpora. No libtorch:
# LOID_WITH_TORCH=OFF, so tests that run the loid executable skip here (the normal build runs them).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${LOID_ASAN_BUILD_DIR:-build-asan}"
start=$(date +%s)
# g++'s "undefined" leaves out float-cast-overflow (clang's includes it): a double beyond the range
# of the integer it is converted to.
sanitizers="address,undefined,float-cast-overflow"
flags="-fsanitize=$sanitizers -fno-sanitize-recover=undefined,float-cast-overflow"
flags="$flags -fno-omit-frame-pointer"
# Bounds checks in libstdc++'s operator[] and friends (no ABI change), which ASan alone misses
# inside a container's capacity.
flags="$flags -D_GLIBCXX_ASSERTIONS"
# Configured every time (a few seconds), so that the flags above always apply. -g1: line tables
# for the sanitizers' stack traces, without the full debug info that slows the build.
CXX=g++ cmake -S . -B "$BUILD_DIR" -G Ninja -DLOID_WITH_TORCH=OFF -DLOID_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitizers" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target loid_tests
cd "$BUILD_DIR"
# halt_on_error: the first report fails the test; detect_leaks: LeakSanitizer runs at exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --output-on-failure -j "$(nproc)"
echo "test_sanitized: built and ran loid_tests with ASan+UBSan in $(($(date +%s) - start)) s"
