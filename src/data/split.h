// The seeded train/validation/test split of a dataset's reviews, identical on every machine, and
// its split.tsv form. Every command that takes --seed calls make_split so all see the same split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace loid {

// kUnused: a training review left out by SplitOptions::train_fraction (seen by no model).
enum class SplitPart : std::uint8_t { kTrain = 0, kValidation = 1, kTest = 2, kUnused = 3 };

// "train", "validation", "test" or "unused".
const char* split_part_name(SplitPart part);

struct SplitOptions {
  std::uint64_t seed = 1;   // split seed: the same seed gives the same split everywhere
  double train = 0.8;       // fraction of reviews used for training (gets the rounding remainder)
  double validation = 0.1;  // fraction for validation (model selection, early stopping)
  double test = 0.1;        // fraction for the final test
  // Learning curves: keep this fraction of the training reviews (a seeded sample, at least one),
  // the rest marked kUnused; validation and test are untouched. 1 = all.
  double train_fraction = 1.0;
};

// Throws UsageError unless all three fractions are positive and sum to 1 within 1e-9, and
// train_fraction is in (0, 1].
void validate_split_options(const SplitOptions& options);

// The default ratios of SplitOptions as --split-ratios text (train,validation,test).
constexpr const char* kDefaultSplitRatios = "0.8,0.1,0.1";

// Parses "0.8,0.1,0.1" (train,validation,test) into options; throws UsageError when malformed.
void parse_split_ratios(const std::string& text, SplitOptions& options);

struct SplitSizes {
  std::int64_t train = 0;
  std::int64_t validation = 0;
  std::int64_t test = 0;
};

// Exact sizes for n reviews: test = floor(n*test + 1e-9), validation = floor(n*validation + 1e-9),
// train = the rest. (The 1e-9 keeps e.g. 100*0.29 = 28.999999999999996 from losing a review.)
SplitSizes split_sizes(std::int64_t n, const SplitOptions& options);

// The split's permutation of 0..n-1: Rng(seed).fork(kSplitSalt) drives a Fisher-Yates shuffle
// (loid::shuffle). The first `test` entries go to test, the next `validation` ones to validation,
// the rest to train.
std::vector<std::int64_t> split_permutation(std::int64_t n, std::uint64_t seed);

// Part of each of n reviews (index = review id), from split_permutation and split_sizes.
std::vector<SplitPart> split_parts(std::int64_t n, const SplitOptions& options);

// Salt for Rng::fork so the split stream differs from other uses of the same seed ("split").
constexpr std::uint64_t kSplitSalt = 0x73706c6974ULL;
// Salt of the train_fraction sample's stream ("frac").
constexpr std::uint64_t kTrainFractionSalt = 0x66726163ULL;

struct SplitCounts {
  std::int64_t train = 0;
  std::int64_t validation = 0;
  std::int64_t test = 0;
  std::int64_t unused = 0;             // training reviews left out by train_fraction
  std::int64_t cold_user_reviews = 0;  // validation/test reviews whose user has no train review
  std::int64_t cold_item_reviews = 0;  // validation/test reviews whose item has no train review
  std::int64_t cold_pair_reviews = 0;  // validation/test reviews with both user and item cold
  std::int64_t cold_users = 0;         // distinct users with held-out reviews but no train review
  std::int64_t cold_items = 0;         // distinct items with held-out reviews but no train review
};

struct Split {
  SplitOptions options;                  // what made this split
  std::vector<SplitPart> part;           // review id -> part
  std::vector<std::int64_t> train;       // review ids, ascending
  std::vector<std::int64_t> validation;  // review ids, ascending
  std::vector<std::int64_t> test;        // review ids, ascending
  std::vector<std::uint8_t>
      cold_user;  // review id -> 1 if held out and its user has no train review
  std::vector<std::uint8_t>
      cold_item;  // review id -> 1 if held out and its item has no train review
  SplitCounts counts;

  const std::vector<std::int64_t>& ids(SplitPart p) const;
};

// Splits the dataset's reviews. Cold validation/test reviews are kept and flagged, never dropped.
Split make_split(const Dataset& dataset, const SplitOptions& options);

// Writes split.tsv atomically: a header, then one line per review in dataset order with columns
// review (dataset index), line (source line), user, item (original ids), rating, split, cold_user,
// cold_item (0/1), time. Backslash, tab, CR and LF inside ids are written as \\ \t \r \n.
void write_split_tsv(const Dataset& dataset, const Split& split, const std::string& path);

}  // namespace loid
