// `loid data split` as a library call: read a reviews file, split it with make_split, write
// split.tsv. Kept apart from split.h so code that only splits a Dataset does not need the reader.
#pragma once

#include <cstdint>
#include <string>

#include "data/reader.h"
#include "data/split.h"

namespace loid {

// `loid data split`: read a reviews file, split it, write <out_dir>/split.tsv.
struct DataSplitOptions {
  std::string input;    // reviews file (any format read_reviews accepts)
  std::string out_dir;  // directory for split.tsv (created if needed)
  SplitOptions split;   // seed and fractions
  ReadOptions read;     // how the reviews file is read
};

struct DataSplitResult {
  ReadReport read;         // what the reader kept and skipped
  std::int64_t users = 0;  // distinct users in the dataset
  std::int64_t items = 0;  // distinct items in the dataset
  SplitCounts counts;
  std::string tsv_path;  // the written split.tsv
};

// Reads, splits and writes; throws InputError for unreadable or empty input, UsageError for bad
// options.
DataSplitResult run_data_split(const DataSplitOptions& options);

// Human-readable summary (several lines): kept/skipped lines, users, items, split sizes, cold-start
// counts and the written path.
std::string describe_split_result(const DataSplitResult& result, const SplitOptions& options);

}  // namespace loid
