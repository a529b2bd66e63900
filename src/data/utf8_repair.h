// UTF-8 checks used while reading reviews: validation, repair with U+FFFD, code point counts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace loid {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool utf8_valid(std::string_view s);

// Byte offset of the first ill-formed sequence, or s.size() when `s` is well-formed.
std::size_t utf8_invalid_offset(std::string_view s);

// Replaces each maximal ill-formed subpart with U+FFFD, the same policy as Python's
// bytes.decode("utf-8", "replace") and the WHATWG encoding standard.
std::string utf8_repair(std::string_view s);

// Number of code points in well-formed UTF-8 (counts lead bytes).
std::size_t utf8_length(std::string_view s);

// Appends the UTF-8 encoding of `cp` (U+FFFD when cp is a surrogate or above U+10FFFF).
void utf8_append(std::string& out, char32_t cp);

}  // namespace loid
