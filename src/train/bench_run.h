// `loid bench`: every model of a list scored on the same seeded splits of one target domain, one
// (model, seed) cell at a time, each cell saved as soon as it is done so that an interrupted bench
// resumes where it stopped; then per-model statistics over seeds (mean, standard deviation, the
// paired difference against `mf` with a 95% t-interval) as results.json, results.md and
// results.svg.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"
#include "data/split.h"
#include "eval/stats.h"
#include "train/loid_train.h"
#include "train/pretrain.h"

namespace loid {

// The models `loid bench` knows in this build: mean, bias, mf, loid, loid+plugin, loid-mf,
// loid-mf+plugin (the mf+text predictor), the text baselines of rec/text_baselines.h (deepconn,
// dattn, anr) and the ID baselines of rec/id_model.h (alfm, bigi, rgcl). The LoID models also run
// under the paper-leaky protocol as NAME@paper-leaky.
std::vector<std::string> bench_model_names();

// Throws UsageError naming the first unknown model and listing the valid ones; also refuses an
// empty list and repeated names.
void validate_bench_models(const std::vector<std::string>& models);

struct BenchOptions {
  std::string data;                  // target-domain reviews file
  std::vector<std::string> sources;  // source-domain files for the plugin (loid+plugin)
  std::vector<std::string> models = {"mean", "bias", "mf"};
  std::vector<std::uint64_t> seeds = {1, 2, 3, 4, 5};  // split (and training) seeds
  std::string out;     // bench directory: bench_config.json, cells/, results.*
  SplitOptions split;  // ratios (the seed is taken from `seeds` per cell)
  ReadOptions read;    // how the data (and source) files are read: --text, --duplicates, ...

  // mf: the (factors, regularisation) pair with the lowest validation MSE; bias: factors 0 with
  // the regularisation grid. Wider than `loid demo`'s (8 x {0.01, 0.05, 0.2}), whose best choice
  // on Musical Instruments sits at its edge; bias still picks 1.0, the top here, on 3 of 5 seeds.
  std::vector<int> mf_factors = {4, 8, 16, 32};
  std::vector<double> mf_regularization = {0.01, 0.05, 0.1, 0.2, 0.5, 1.0};

  // LoID cells: the template of `loid train` settings (data, out and split are set per cell;
  // plugins.dirs is empty for `loid` and the plugin(s) for `loid+plugin`).
  LoidTrainOptions loid;
  // Existing plugin directories for loid+plugin; empty = pretrain one from `sources` into
  // out/plugin (once, on split seed `pretrain.split.seed`).
  std::vector<std::string> plugins;
  PretrainOptions pretrain;  // template: data, out, encoder and LoRA are set by the bench

  // Text baselines (deepconn, dattn, anr).
  int text_max_epochs = 0;   // 0 = the model's default
  std::string word_vectors;  // optional JSON word vectors; "" = trained from scratch

  // ID baselines (alfm, bigi, rgcl); rgcl encodes the training reviews with loid.encoder_dir.
  int id_max_epochs = 0;  // epochs at most per grid point (0 = each model's default)

  int threads = 0;  // intra-op threads for the neural models (0 = all cores)
  // Where the LoID cells and the plugin pretraining run (cpu); the ID and text baselines stay on
  // the CPU. Not part of the bench's settings: cells may resume on another device.
  DeviceSpec device;
  bool progress = true;  // progress bars inside the cells

  // Train nothing: write the results files from the finished cells only (missing cells are
  // listed per row as missing_seeds). The directory must hold a bench, and its settings are still
  // checked against these options, so the table says what made its cells.
  bool table_only = false;
};

struct BenchResult {
  std::vector<std::string> computed;  // cells trained by this call ("mf_s2"), in order
  std::vector<std::string> reused;    // finished cells found on disk and not recomputed
  nlohmann::json results;             // as written to results.json
  double seconds = 0.0;               // wall time of this call
};

// Runs every (model, seed) cell not yet finished in options.out (none with table_only), then
// writes the results files.
// Refuses (UsageError) when options.out holds a bench of another data file or other settings.
// Progress lines go to `log`, one per cell.
BenchResult run_bench(const BenchOptions& options, std::ostream& log);

// The part of the options that decides a cell's result, with the data and source files'
// fingerprints: what bench_config.json pins (the model and seed lists may grow between calls).
nlohmann::json bench_settings_json(const BenchOptions& options);

// Statistics of finished cells (cell JSON objects as written to cells/*.json) for the given
// models and seeds; the pure part of run_bench, exposed for tests.
nlohmann::json bench_results_json(const std::vector<nlohmann::json>& cells,
                                  const std::vector<std::string>& models,
                                  const std::vector<std::uint64_t>& seeds);

// results.md from results.json.
std::string bench_results_markdown(const nlohmann::json& results);

// The model list with each LoID model run under the given protocols ("leak-free",
// "paper-leaky"): a paper-leaky LoID model is the name with "@paper-leaky" appended
// ("loid@paper-leaky"), its own row of the results, marked LEAKY. Other models read no histories
// and are listed once. Throws UsageError on an unknown or empty protocol list.
std::vector<std::string> bench_models_for_protocols(const std::vector<std::string>& models,
                                                    const std::vector<std::string>& protocols);

// Cell file name: "<model>_s<seed>.json" ("loid+plugin" keeps its '+').
std::string bench_cell_name(const std::string& model, std::uint64_t seed);

// Files of a bench directory.
constexpr const char* kBenchConfig = "bench_config.json";
constexpr const char* kBenchCells = "cells";
constexpr const char* kBenchResultsJson = "results.json";
constexpr const char* kBenchResultsMd = "results.md";
constexpr const char* kBenchResultsSvg = "results.svg";

}  // namespace loid
