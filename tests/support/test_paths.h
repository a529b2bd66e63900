// Paths the tests use: the source tree, its fixtures, and the optional real data beside the
// checkout.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace loid::testing {

inline std::string source_dir() {
  return LOID_SOURCE_DIR;
}
inline std::string fixture(const std::string& rel) {
  return source_dir() + "/tests/fixtures/" + rel;
}
inline std::string golden(const std::string& rel) {
  return source_dir() + "/tests/golden/" + rel;
}
// The loid executable; "" in a build without it (LOID_WITH_TORCH=OFF).
inline std::string cli_path() {
  return LOID_CLI_PATH;
}

// ../shared/data beside the checkout, or "" when absent.
inline std::string shared_data(const std::string& rel) {
  std::string p = source_dir() + "/../shared/data/" + rel;
  return std::filesystem::exists(p) ? p : std::string();
}

// A fresh empty directory under the system temp area, unique to this process (CTest runs tests in
// parallel processes, and several checkouts may test at once) and removed when the process exits.
inline std::string temp_dir(const std::string& name) {
  static std::vector<std::filesystem::path> made;
  if (made.empty()) {
    std::atexit([] {
      std::error_code ec;
      for (const auto& d : made) std::filesystem::remove_all(d, ec);
    });
  }
  auto p = std::filesystem::temp_directory_path() /
           ("loid_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  made.push_back(p);
  return p.string();
}

}  // namespace loid::testing

// Skips the current test, saying so, when a shared data file is absent.
#define LOID_REQUIRE_SHARED(var, rel)                        \
  const std::string var = ::loid::testing::shared_data(rel); \
  if (var.empty()) GTEST_SKIP() << "../shared/data/" << (rel) << " absent; skipping real-data test"

// Skips the current test, saying so, in a build without the loid executable (LOID_WITH_TORCH=OFF,
// the sanitized torch-free build); a normal build always has it.
#define LOID_REQUIRE_CLI()                 \
  if (::loid::testing::cli_path().empty()) \
  GTEST_SKIP() << "built without the loid executable (LOID_WITH_TORCH=OFF); skipping CLI test"
