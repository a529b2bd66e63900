// Summary statistics of a read reviews file (`loid data stats`): sizes, rating histogram, text
// lengths, and what the reader skipped or dropped; printed for people or as JSON.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "data/reader.h"

namespace loid {

// Nearest-rank percentiles (the smallest value with at least p% of values <= it) and the maximum.
struct LengthSummary {
  std::int64_t p50 = 0;
  std::int64_t p90 = 0;
  std::int64_t p99 = 0;
  std::int64_t max = 0;
  double mean = 0;
};

// Distribution of reviews per user or per item.
struct CountSummary {
  std::int64_t min = 0;
  std::int64_t median = 0;  // nearest-rank p50
  std::int64_t max = 0;
};

struct DataStats {
  std::string file;
  std::string format;                     // as detected by the reader
  std::int64_t lines = 0;                 // non-blank data lines seen
  std::int64_t records = 0;               // reviews kept
  std::int64_t users = 0;                 // distinct users among kept reviews
  std::int64_t items = 0;                 // distinct items among kept reviews
  std::map<float, std::int64_t> ratings;  // rating value -> count
  double rating_mean = 0;
  CountSummary per_user;                     // reviews per user
  CountSummary per_item;                     // reviews per item
  LengthSummary chars;                       // Review::text length in Unicode code points
  LengthSummary tokens;                      // Review::text length in whitespace-separated tokens
  std::int64_t duplicates_dropped = 0;       // by the duplicate policy
  std::int64_t repeated_texts_dropped = 0;   // by the repeated-text policy
  std::int64_t empty_text = 0;               // kept with Review::empty_text
  std::int64_t utf8_repaired = 0;            // kept after U+FFFD repair
  std::map<std::string, SkipCount> skipped;  // reason -> count and first line numbers
  std::int64_t skipped_total = 0;
};

// Nearest-rank percentile of ascending `sorted` values, p in (0, 100]; 0 for an empty vector.
std::int64_t percentile(const std::vector<std::int64_t>& sorted, double p);

// Tokens = maximal runs of characters other than ASCII whitespace (space, \t, \n, \v, \f, \r).
std::int64_t count_tokens(const std::string& text);

DataStats compute_stats(const ReviewFile& file);

// A block of aligned lines for people; ends with a newline.
std::string format_stats(const DataStats& stats);

// Keys in the order of the printed form.
nlohmann::ordered_json stats_to_json(const DataStats& stats);

struct StatsOptions {
  std::vector<std::string> files;  // review files to read
  ReadOptions read;                // how to read them
  bool json = false;               // JSON (an array when several files) instead of text blocks
};

// `loid data stats`: reads every file and writes one block per file to `out`.
void run_data_stats(const StatsOptions& options, std::ostream& out);

}  // namespace loid
