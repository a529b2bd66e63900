// Where installed models live: $LOID_MODELS_DIR if set, else <source dir>/models as laid out by
// scripts/setup.sh.
#pragma once

#include <string>

namespace loid {

std::string models_dir();

}  // namespace loid
