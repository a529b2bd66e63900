// libFuzzer harness for the review reader (src/data/reader.cpp: JSON lines, Python-literal lines,
// TSV/CSV, plain or gzip) and the Python-literal parser (src/data/pyliteral.cpp): each input is
// written to a scratch file and read under several option sets; reader_invariants.h says what must
// hold, and is shared with the corpus replay of the normal suite
// (tests/data/reader_corpus_test.cpp). A broken promise, a crash or a sanitizer report aborts.
// Build and run (see README.md):
//   CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DLOID_BUILD_FUZZ=ON -DLOID_WITH_TORCH=OFF \
//     -DLOID_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
//   cmake --build build-fuzz --target reader_fuzz
//   mkdir -p tests/fuzz/corpus_work/reader && build-fuzz/reader_fuzz -max_total_time=300 \
//     -max_len=4096 -timeout=5 tests/fuzz/corpus_work/reader tests/fuzz/corpus/reader
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/progress.h"
#include "fuzz/reader_invariants.h"

namespace {

// One scratch file per process, without an extension (the format is told from the content).
const std::string& scratch_path() {
  static const std::string path = [] {
    loid::Progress::set_quiet(true);
    std::atexit([] { std::remove(scratch_path().c_str()); });
    return (std::filesystem::temp_directory_path() /
            ("loid_reader_fuzz_" + std::to_string(::getpid())))
        .string();
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto check = loid::testing::check_review_bytes(bytes, scratch_path());
  if (!check.problem.empty()) {
    std::fprintf(stderr, "reader_fuzz: %s\n", check.problem.c_str());
    std::abort();
  }
  return 0;
}
