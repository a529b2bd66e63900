// Reads review files into Review records: Amazon 2014/2018 JSON lines, the full 2014 dumps
// (Python-literal lines), and TSV/CSV with a header; plain or gzip. Every line either becomes a
// record or is counted under a skip reason (with its first line numbers); --strict turns the first
// problem into an InputError naming file and line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/review.h"

namespace loid {

enum class TextFields { kSummaryAndReview, kReviewOnly, kSummaryOnly };
enum class DuplicatePolicy { kKeepLatest, kKeepFirst, kKeepAll };
enum class Utf8Policy { kRepair, kSkip };
// A user's review whose text repeats, word for word, an earlier kept review of the same user
// (Amazon 2018 files post one review on every variant of an item): keep it, or drop it (the first
// line of each (user, text) stays; empty texts are never dropped). Applied after the duplicate
// policy.
enum class RepeatedTextPolicy { kKeep, kDrop };

struct ReadOptions {
  TextFields text = TextFields::kSummaryAndReview;            // which fields make Review::text
  DuplicatePolicy duplicates = DuplicatePolicy::kKeepLatest;  // for repeated (user, item) pairs
  Utf8Policy invalid_utf8 = Utf8Policy::kRepair;  // repair with U+FFFD, or skip the line
  RepeatedTextPolicy repeated_texts = RepeatedTextPolicy::kKeep;
  bool strict = false;                   // throw on the first problem
  std::size_t max_line_bytes = 1 << 20;  // longer lines are skipped ("line too long")
  std::size_t max_examples = 5;          // line numbers remembered per skip reason
};

struct SkipCount {
  std::int64_t count = 0;
  std::vector<std::int64_t> first_lines;  // up to ReadOptions::max_examples
};

struct ReadReport {
  std::string file;
  std::string format;  // "json", "python-literal", "tsv", "csv", "empty"
  // Non-blank data lines (not a TSV/CSV header; a multi-line CSV record counts once); always
  // kept + duplicates_dropped + repeated_texts_dropped + skipped_total().
  std::int64_t lines = 0;
  std::int64_t kept = 0;                     // records returned
  std::int64_t empty_text = 0;               // kept, flagged
  std::int64_t utf8_repaired = 0;            // kept after repair
  std::int64_t duplicates_dropped = 0;       // removed by the duplicate policy
  std::int64_t repeated_texts_dropped = 0;   // removed by the repeated-text policy
  std::map<std::string, SkipCount> skipped;  // reason -> count and first lines
  std::int64_t skipped_total() const;
};

struct ReviewFile {
  std::vector<Review> reviews;  // in file order (after duplicate handling)
  ReadReport report;
};

// Reads one file. Throws InputError when the file cannot be opened, its format cannot be told, a
// TSV/CSV header lacks a user, item, rating or text column, or (strict) on the first problem: a
// skipped line, invalid UTF-8 or a truncated/corrupt gzip stream. Non-strict, a damaged gzip stream
// keeps the records read before the damage and is recorded under kSkipTruncatedGzip.
// Field names are matched ignoring case and '_' (user: user, user_id, reviewerID, ...; item: item,
// item_id, asin, ...; rating: rating, overall, stars, ...; text: text, review, reviewText, ...;
// summary: summary, title, ...; time: time, timestamp, unixReviewTime; millisecond times are
// converted to seconds). Review::empty_text is set when the review-text field is missing or blank,
// or when the chosen text (ReadOptions::text) is empty. Invalid UTF-8 is judged per line (also in
// fields the reader ignores).
ReviewFile read_reviews(const std::string& path, const ReadOptions& options = {});

// Skip reasons used as keys of ReadReport::skipped. For kSkipTruncatedGzip the line number recorded
// is the last complete line read before the stream broke off.
inline constexpr const char* kSkipMalformed = "malformed line";
inline constexpr const char* kSkipMissingUser = "missing user";
inline constexpr const char* kSkipMissingItem = "missing item";
inline constexpr const char* kSkipMissingRating = "missing rating";
inline constexpr const char* kSkipRatingNotNumber = "rating not a number";
inline constexpr const char* kSkipRatingOutOfRange = "rating out of range";
inline constexpr const char* kSkipInvalidUtf8 = "invalid UTF-8";
inline constexpr const char* kSkipLineTooLong = "line too long";
inline constexpr const char* kSkipTruncatedGzip = "truncated gzip";

// Option names as the CLI spells them ("summary+review", "review", "summary"; "latest", "first",
// "all"; "repair", "skip"; "keep", "drop"). The *_from_name functions throw UsageError listing the
// valid names.
TextFields text_fields_from_name(const std::string& name);
DuplicatePolicy duplicate_policy_from_name(const std::string& name);
Utf8Policy utf8_policy_from_name(const std::string& name);
RepeatedTextPolicy repeated_text_policy_from_name(const std::string& name);
std::string name_of(TextFields v);
std::string name_of(DuplicatePolicy v);
std::string name_of(Utf8Policy v);
std::string name_of(RepeatedTextPolicy v);

}  // namespace loid
