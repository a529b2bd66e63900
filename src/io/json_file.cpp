#include "io/json_file.h"

#include <cmath>

#include "core/error.h"
#include "core/fs.h"

namespace loid {

std::int64_t json_int_field(const nlohmann::json& j, const char* key, std::int64_t fallback,
                            bool required, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) throw InputError(file, 0, std::string("missing field '") + key + "'");
    return fallback;
  }
  if (!it->is_number_integer())
    throw InputError(file, 0,
                     std::string("field '") + key + "' must be an integer, got " + it->dump());
  return it->get<std::int64_t>();
}

bool json_bool_field(const nlohmann::json& j, const char* key, bool fallback,
                     const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    throw InputError(file, 0, std::string("field '") + key + "' must be true or false");
  return it->get<bool>();
}

nlohmann::json number_or_null(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace loid
