// `loid demo`: the end-to-end run on the embedded defaults. Until the recommender exists it runs the
// data pipeline on a synthetic two-domain corpus (or the user's files) and scores the classical
// baselines on the seeded split, printing what each stage did.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace loid {

struct DemoOptions {
  std::string data;                  // target reviews file; empty = synthesise a corpus
  std::vector<std::string> sources;  // source-domain files (synthesised with the target when empty)
  std::string out = "runs/demo";     // working directory for the corpus and split.tsv
  std::uint64_t seed = 1;            // split seed (and corpus seed when synthesising)
  std::int64_t synth_users = 400;    // users per synthetic domain
  std::int64_t synth_items = 150;    // items per synthetic domain
};

struct DemoResult {
  std::int64_t target_reviews = 0;
  std::int64_t leaks_found = 0;  // held-out reviews reachable through a history (must be 0)
  double mean_test_mse = 0.0;    // global-mean baseline
  double bias_test_mse = 0.0;    // user + item biases
  double mf_test_mse = 0.0;      // biased MF, size and regularisation chosen on validation
};

// Runs the demo, writing a human-readable account to `out`. Throws on bad input files.
DemoResult run_demo(const DemoOptions& options, std::ostream& out);

}  // namespace loid
