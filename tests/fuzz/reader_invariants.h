// What the review reader (src/data/reader.cpp) and the Python-literal parser
// (src/data/pyliteral.cpp) promise for any file, checked in one place for the libFuzzer harness
// (reader_fuzz.cpp) and the corpus replay of the normal suite (tests/data/reader_corpus_test.cpp):
// - read_reviews returns or throws InputError, under every option set tried here;
// - every non-blank line is a record, a duplicate, a repeated text or a skip (ReadReport's sum);
// - every record has a user and an item, a rating in 1..5, a line number in the file, and valid
//   UTF-8 in its strings;
// - records keep file order, and (user, item) pairs are unique unless all duplicates are kept;
// - strict reading succeeds exactly when lenient reading skips nothing, with the same records;
// - parse_python_literal on the (repaired) bytes returns, and what it accepts dumps as JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <fstream>
#include <string>
#include <set>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "data/pyliteral.h"
#include "data/reader.h"
#include "data/utf8_repair.h"

namespace loid::testing {

struct ReaderCheck {
  bool read = false;         // lenient read_reviews returned (did not throw InputError)
  std::int64_t kept = 0;     // records it returned
  std::int64_t skipped = 0;  // lines it skipped
  std::string problem;       // the first broken promise, "" when none
};

namespace detail {

// "" when `f`, read from a file of `line_count` lines with `opt`, keeps the reader's promises.
inline std::string review_file_problem(const ReviewFile& f, const ReadOptions& opt,
                                       std::int64_t line_count) {
  const ReadReport& rep = f.report;
  if (rep.kept != static_cast<std::int64_t>(f.reviews.size())) return "kept != records returned";
  if (rep.lines !=
      rep.kept + rep.duplicates_dropped + rep.repeated_texts_dropped + rep.skipped_total())
    return "lines != kept + duplicates + repeated texts + skipped";
  if (rep.lines > line_count) return "more data lines counted than the file has";
  if (opt.duplicates == DuplicatePolicy::kKeepAll && rep.duplicates_dropped != 0)
    return "duplicates dropped under kKeepAll";
  for (const auto& [reason, s] : rep.skipped) {
    if (s.count <= 0) return "skip reason '" + reason + "' with no count";
    if (s.first_lines.size() > opt.max_examples) return "more example lines than max_examples";
  }
  std::int64_t last_line = 0;
  std::set<std::pair<std::string, std::string>> pairs;
  for (const Review& r : f.reviews) {
    if (r.user.empty() || r.item.empty()) return "a record without user or item";
    if (!(r.rating >= 1.0f && r.rating <= 5.0f)) return "a rating outside 1..5";
    if (r.line < 1 || r.line > line_count) return "a line number outside the file";
    if (r.line <= last_line) return "records out of file order";
    last_line = r.line;
    if (!utf8_valid(r.user) || !utf8_valid(r.item) || !utf8_valid(r.text))
      return "invalid UTF-8 in a record";
    if (!pairs.insert({r.user, r.item}).second && opt.duplicates != DuplicatePolicy::kKeepAll)
      return "a (user, item) pair twice although duplicates are dropped";
  }
  return "";
}

// Reads `path` with `opt`; sets *threw when InputError came instead of a file.
inline ReviewFile read_or_input_error(const std::string& path, const ReadOptions& opt, bool* threw,
                                      std::string* problem) {
  *threw = false;
  try {
    return read_reviews(path, opt);
  } catch (const InputError& e) {
    *threw = true;
    if (e.file() != path) *problem = "InputError names another file: " + e.file();
  } catch (const std::exception& e) {
    *problem = "unexpected exception: " + std::string(e.what());
  }
  return {};
}

inline bool same_records(const ReviewFile& a, const ReviewFile& b) {
  if (a.reviews.size() != b.reviews.size()) return false;
  for (std::size_t i = 0; i < a.reviews.size(); ++i) {
    const Review &x = a.reviews[i], &y = b.reviews[i];
    if (x.user != y.user || x.item != y.item || x.rating != y.rating || x.text != y.text ||
        x.time != y.time || x.line != y.line)
      return false;
  }
  return true;
}

}  // namespace detail

// Writes `bytes` to `scratch_path` (a file the caller owns; its name should carry no extension, so
// that the format is told from the content) and checks the promises above on it.
inline ReaderCheck check_review_bytes(std::string_view bytes, const std::string& scratch_path) {
  ReaderCheck out;
  auto fail = [&out](const std::string& what) {
    if (out.problem.empty()) out.problem = what;
  };
  {
    std::ofstream f(scratch_path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
      out.problem = "cannot write " + scratch_path;
      return out;
    }
  }
  // Upper bound on the lines of the decoded file: exact for plain input; a gzip stream can inflate
  // to more lines than its bytes hold newlines, so then no bound is checked.
  const bool gzip = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
                    static_cast<unsigned char>(bytes[1]) == 0x8b;
  const std::int64_t line_count =
      gzip ? INT64_MAX : std::count(bytes.begin(), bytes.end(), '\n') + 1;

  ReadOptions lenient;
  bool threw = false;
  const ReviewFile base = detail::read_or_input_error(scratch_path, lenient, &threw, &out.problem);
  if (!out.problem.empty()) return out;
  out.read = !threw;
  out.kept = base.report.kept;
  out.skipped = base.report.skipped_total();
  if (!threw) fail(detail::review_file_problem(base, lenient, line_count));

  // Strict reading throws at the first line that lenient reading skips (with invalid UTF-8
  // skipped rather than repaired, as strict reading refuses it too), and otherwise returns the
  // same.
  ReadOptions skip_utf8;
  skip_utf8.invalid_utf8 = Utf8Policy::kSkip;
  bool skip_threw = false;
  const ReviewFile k =
      detail::read_or_input_error(scratch_path, skip_utf8, &skip_threw, &out.problem);
  if (!out.problem.empty()) return out;
  if (!skip_threw) fail(detail::review_file_problem(k, skip_utf8, line_count));
  ReadOptions strict;
  strict.strict = true;
  bool strict_threw = false;
  const ReviewFile s =
      detail::read_or_input_error(scratch_path, strict, &strict_threw, &out.problem);
  if (!out.problem.empty()) return out;
  if (!skip_threw) {
    const bool skips = k.report.skipped_total() > 0;
    if (strict_threw != skips)
      fail(strict_threw ? "strict reading threw although lenient reading skipped nothing"
                        : "strict reading succeeded although lenient reading skipped lines");
    else if (!strict_threw && !detail::same_records(s, k))
      fail("strict and lenient reading returned different records");
  } else if (!strict_threw) {
    fail("strict reading succeeded where lenient reading threw");
  }

  // The other policies, and a line limit that short inputs reach.
  ReadOptions other;
  other.text = TextFields::kReviewOnly;
  other.duplicates = DuplicatePolicy::kKeepAll;
  other.repeated_texts = RepeatedTextPolicy::kDrop;
  other.max_line_bytes = 64;
  other.max_examples = 1;
  const ReviewFile o = detail::read_or_input_error(scratch_path, other, &threw, &out.problem);
  if (!out.problem.empty()) return out;
  if (!threw) fail(detail::review_file_problem(o, other, line_count));

  ReadOptions first;
  first.text = TextFields::kSummaryOnly;
  first.duplicates = DuplicatePolicy::kKeepFirst;
  const ReviewFile fi = detail::read_or_input_error(scratch_path, first, &threw, &out.problem);
  if (!out.problem.empty()) return out;
  if (!threw) fail(detail::review_file_problem(fi, first, line_count));

  // The Python-literal parser on the whole input, as the reader would hand it a line.
  try {
    const std::string text = utf8_valid(bytes) ? std::string(bytes) : utf8_repair(bytes);
    nlohmann::json value;
    if (parse_python_literal(text, value).ok) (void)value.dump();
  } catch (const std::exception& e) {
    fail("python literal: " + std::string(e.what()));
  }
  return out;
}

}  // namespace loid::testing
