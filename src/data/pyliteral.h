// A small parser for Python literals as written by repr()/str() of dicts (the full Amazon 2014
// dumps): quoted strings with escapes, numbers, True/False/None, lists, tuples and dicts.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace loid {

struct PyLiteralResult {
  bool ok = false;
  std::string error;      // what was wrong, with the byte offset, when !ok
  bool repaired = false;  // an escape gave a lone surrogate or invalid bytes -> U+FFFD
};

// Parses one literal filling `out` (dict -> object with string keys, list/tuple -> array, None ->
// null). Strings without a u/b prefix decode \x escapes as bytes when that yields valid UTF-8
// (Python 2 byte strings) and as code points otherwise (Python 3 str); u'' strings always as code
// points. Trailing text other than whitespace is an error.
PyLiteralResult parse_python_literal(std::string_view text, nlohmann::json& out);

}  // namespace loid
