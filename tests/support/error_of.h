// Runs f and returns the message of the expected exception type, so tests can check that an error
// names the file and the problem; returns "(no error)" when f does not throw.
#pragma once

#include <string>

#include "core/error.h"

namespace loid::testing {

template <typename E = Error, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace loid::testing
