// The real USE-Lite converted once per test process from the npm package that scripts/setup.sh
// installs, and a skip for machines without that package. For torch test files only.
#pragma once

#include <string>

#include "core/fs.h"
#include "nn/use_lite.h"
#include "support/test_paths.h"

namespace loid::testing {

// Model directory of the converted USE-Lite (converted on first use into a temp dir).
inline std::string use_lite_dir() {
  static const std::string dir = [] {
    std::string d = temp_dir("use_lite_model");
    convert_use_lite(default_use_lite_npm_dir(), d);
    return d;
  }();
  return dir;
}

}  // namespace loid::testing

#define REQUIRE_USE_LITE_PACKAGE()                                              \
  if (!::loid::file_exists(::loid::default_use_lite_npm_dir() + "/model.json")) \
  GTEST_SKIP() << "USE-Lite npm package absent; run scripts/setup.sh"
