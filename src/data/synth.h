// Synthetic review corpora in the Amazon 2014 JSON-lines format, with a known generative story so
// that ratings depend on users, items and text in controlled ways (tests, demos, benchmarks).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loid {

struct SynthOptions {
  int domains = 1;           // number of product domains (1..8), one file each when > 1
  std::int64_t users = 500;  // users per domain (>= 5)
  std::int64_t items = 200;  // items per domain (>= 5)
  int reviews_per_user = 8;  // mean reviews a user writes (>= min_reviews)
  std::uint64_t seed = 1;    // same seed and options -> byte-identical files

  // The generative story's knobs (defaults: the original corpus, byte for byte).
  // rating = mean + b_u + b_i + interaction * sum_a taste_ua quality_ia + noise, rounded to 1..5.
  double bias_scale = 0.45;  // std of the user and item biases (what rating averages see)
  double interaction = 1.6;  // weight of taste x quality (the part review words explain)
  double noise = 0.45;       // std of the per-review rating noise
  // Item qualities centred over aspects: an item's mean rating over users of average taste, and a
  // user's over items, no longer reflect the interaction, so biases cannot learn it and only
  // per-pair factors or the review texts (which aspects a user writes about, what others say of
  // an item's aspects) can.
  bool centered_quality = false;
  // How much the rating itself shows in the words: 1 = aspect sentiment leans towards the rating,
  // half the reviews end with a rating-specific closing and 70% have a rating-specific summary;
  // 0 = sentiment follows only the item's quality on the aspect, summaries neutral, no closings.
  double rating_words = 1.0;
  int min_reviews = 5;   // reviews every user writes at least (5 = 5-core; 1..5)
  std::string out;       // output file; gzip when it ends in ".gz"
  bool progress = true;  // show a progress bar while generating
};

// One generated review (before JSON encoding).
struct SynthReview {
  std::string user;       // reviewerID
  std::string item;       // asin
  int rating = 0;         // overall, 1..5
  std::string summary;    // summary
  std::string text;       // reviewText
  std::int64_t time = 0;  // unixReviewTime (midnight UTC)
};

// Sentiment strength classes of the shared sentiment vocabulary.
enum class Sentiment {
  kStrongNegative = 0,
  kMildNegative,
  kNeutral,
  kMildPositive,
  kStrongPositive
};

// The words of one sentiment class (shared by all domains; lower case).
const std::vector<std::string>& synth_sentiment_words(Sentiment s);

// Number of built-in domain themes (the upper bound of SynthOptions::domains).
int synth_theme_count();
// Name of domain k's theme (k = 1..domains), e.g. "instruments".
std::string synth_theme_name(int domain);

// Generates domain k (1-based) of the corpus. Depends only on (seed, k, users, items,
// reviews_per_user), so domain 1 of a 3-domain corpus equals the 1-domain corpus of the same seed.
// Reviews are ordered by item, then time, then user (Amazon's 5-core files are grouped by item).
std::vector<SynthReview> synth_domain(const SynthOptions& options, int domain);

// One Amazon 2014 style JSON line (no trailing newline).
std::string synth_json_line(const SynthReview& review);

// Output paths: {out} for one domain, else "<stem>_d<k><ext>" beside out for k = 1..domains, where
// ext is the last extension, or the last two when the name ends in ".gz" (corpus.json.gz ->
// corpus_d1.json.gz).
std::vector<std::string> synth_output_paths(const std::string& out, int domains);

// Validates options (UsageError), generates every domain and writes each file atomically.
// Returns the written paths.
std::vector<std::string> write_synth_corpus(const SynthOptions& options);

}  // namespace loid
