// libFuzzer harness for the scoring service's request parser (src/serve/request.cpp, torch-free):
// any input must either parse, within the limits, or throw RequestError with a 400 or 413 and a
// field; anything else (a crash, a sanitizer report, another exception) aborts. The promises are
// checked in request_invariants.h, which the corpus replay of the normal suite shares. Built by
// CMake with clang only (CI builds without it):
//   CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DLOID_BUILD_FUZZ=ON -DLOID_WITH_TORCH=OFF \
//     -DLOID_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
//   cmake --build build-fuzz --target request_fuzz
//   mkdir -p /tmp/request_corpus && build-fuzz/request_fuzz -max_total_time=120 \
//     -max_len=4096 /tmp/request_corpus tests/serve/request_corpus
// (new inputs go to the first directory; tests/serve/request_corpus holds the committed seeds,
// which tests/serve/request_corpus_test.cpp replays in every build, sanitized in CI).
// 2026-11-27: a 300 s run found an unknown empty key ("") reported with an empty field (fixed);
// then 1.37 M inputs in 600 s (seeds: the bodies of request_test.cpp) without a failure.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string_view>

#include "serve/request_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto check = loid::testing::check_request_body(body, loid::testing::fuzz_request_limits());
  if (!check.problem.empty()) {
    std::fprintf(stderr, "%s\n", check.problem.c_str());
    std::abort();
  }
  return 0;
}
