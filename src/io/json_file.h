// JSON helpers shared by the commands and model loaders: typed fields of a configuration file with
// errors that name the file and the field, JSON numbers that stay valid for NaN, and atomic writes.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace loid {

// The integer field `key` of `j` (read from `file`, named in errors). A missing or null field is
// `fallback`, or an InputError when `required`; any other non-integer value is an InputError.
std::int64_t json_int_field(const nlohmann::json& j, const char* key, std::int64_t fallback,
                            bool required, const std::string& file);

// The boolean field `key` of `j`; missing or null gives `fallback`, a non-boolean an InputError.
bool json_bool_field(const nlohmann::json& j, const char* key, bool fallback,
                     const std::string& file);

// x as a JSON number, or null when x is NaN or infinite (JSON has no such numbers).
nlohmann::json number_or_null(double x);

// `j` written to `path` with two-space indentation and a final newline, atomically (temporary
// file, then rename).
void write_json_file(const std::string& path, const nlohmann::json& j);

}  // namespace loid
