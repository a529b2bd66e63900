// `loid demo`: the end-to-end run. On a synthetic two-domain corpus (or the user's files) it reads
// and splits the target, proves the histories leak nothing, scores the classical baselines, then
// pretrains a source plugin and trains LoID on the target with and without it, and prints one
// table.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"
#include "data/reader.h"

namespace loid {

struct DemoOptions {
  std::string data;                  // target reviews file; empty = synthesise a corpus
  std::vector<std::string> sources;  // source-domain files (synthesised with the target when empty)
  std::string out = "runs/demo";     // working directory: corpus, split.tsv, plugin, runs
  std::uint64_t seed = 1;            // split seed (and corpus seed when synthesising)
  ReadOptions read;                  // how the files are read (--text, --duplicates, ...)
  // The synthetic corpus is one where reviews carry what ratings alone cannot: ratings depend on
  // how an item does on the aspects its user cares about (item qualities centred over aspects, so
  // averages do not see it), users have about 5 reviews each, and the review words say which
  // aspects a user writes about and how items fare on them (no rating-specific words).
  std::int64_t synth_users = 1000;   // users per synthetic domain
  std::int64_t synth_items = 60;     // items per synthetic domain
  bool loid = true;                  // also pretrain a plugin and train LoID (else baselines only)
  std::string encoder_dir;           // "" = installed default (USE-Lite)
  std::int64_t pretrain_steps = 40;  // plugin training steps (batch 32); 0 = full epochs
  int pretrain_epochs = 1;
  std::int64_t relora_steps = 20;  // Re-LoRA steps per epoch (batch 32); 0 = full epochs
  int relora_epochs = 1;
  int loid_epochs = 30;  // LoID epochs at most (early stopping on validation)
  int threads = 0;       // 0 = all cores
  DeviceSpec device;     // where the plugin and LoID train (cpu); the baselines stay on the CPU
  bool progress = true;
  // Sizes for tests (tiny encoders): 0 = the run defaults.
  int lora_rank = 0;
  std::int64_t heads = 0;
  std::int64_t hidden = 0;
};

struct DemoResult {
  std::int64_t target_reviews = 0;
  std::int64_t leaks_found = 0;       // held-out reviews reachable through a history (must be 0)
  double mean_test_mse = 0.0;         // global-mean baseline
  double bias_test_mse = 0.0;         // user + item biases
  double mf_test_mse = 0.0;           // biased MF, size and regularisation chosen on validation
  double loid_test_mse = 0.0;         // LoID without a plugin (NaN when loid is off)
  double loid_plugin_test_mse = 0.0;  // LoID with the source plugin
  double loid_mf_test_mse = 0.0;      // LoID, MF + text factors, with the plugin's text stage
  double plugin_test_mse = 0.0;       // the plugin's own task on the source (review -> rating)
  std::string run_dir;                // the LoID-with-plugin run (for eval/predict/serve)
  std::string mf_run_dir;             // the MF + text factors run
};

// Runs the demo, writing a human-readable account to `out`. Throws on bad input files.
DemoResult run_demo(const DemoOptions& options, std::ostream& out);

}  // namespace loid
