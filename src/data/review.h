// One review record as read from a reviews file, before any id mapping.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loid {

struct Review {
  std::string user;            // original reviewer id (e.g. Amazon reviewerID)
  std::string item;            // original item id (e.g. Amazon asin)
  float rating = 0.0f;         // star rating, 1..5
  std::string text;            // text the models read (summary + review text by default)
  std::int64_t time = 0;       // unix seconds; 0 when the source has no time
  std::int64_t line = 0;       // 1-based line number in the source file
  bool empty_text = false;     // true when the source had no review text (kept, flagged)
  bool utf8_repaired = false;  // true when invalid UTF-8 was replaced by U+FFFD
};

}  // namespace loid
