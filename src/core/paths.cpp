#include "core/paths.h"

#include <cstdlib>

#ifndef LOID_SOURCE_DIR_DEFAULT
#define LOID_SOURCE_DIR_DEFAULT "."
#endif

namespace loid {

std::string models_dir() {
  if (const char* env = std::getenv("LOID_MODELS_DIR"); env != nullptr && *env != '\0') return env;
  return std::string(LOID_SOURCE_DIR_DEFAULT) + "/models";
}

}  // namespace loid
