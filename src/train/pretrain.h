// `loid pretrain`: a source-domain plugin. On the training split of one or more domains, the frozen
// encoder with a fresh LoRA target and an MLP head learns each review's rating from its own text;
// validation MSE picks the epoch; the adapter (with the head as PEFT module to save and our
// provenance) is written as a PEFT directory; test metrics (MSE, RMSE, MAE and weighted P/R/F1 of
// the rounded rating, the paper's Table 3 task) are reported once.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/device.h"
#include "data/split.h"
#include "eval/metrics.h"
#include "nn/lora.h"
#include "train/setup.h"
#include "train/text_regressor.h"

namespace loid {

struct PretrainOptions {
  std::vector<std::string> data;  // source-domain review files (one plugin for all of them)
  std::string encoder_dir;        // "" = installed default (USE-Lite)
  std::string out;                // PEFT adapter directory to write
  SplitOptions split;             // seed and ratios, as `loid data split`
  ReadOptions read;               // how every file is read (--text, --duplicates, ...)
  LoraConfig lora;                // r, alpha, dropout, target modules (empty = encoder defaults)
  TextRegressorOptions train;     // epochs, batch, learning rate, ...
  std::int64_t head_hidden = 256;
  double head_dropout = 0.1;
  std::int64_t max_train_reviews = 0;  // per domain, seeded subsample of the train split (0 = all)
  int threads = 0;                     // 0 = all cores
  DeviceSpec device;                   // where the encoder, head and optimiser state live (cpu)
  bool force = false;                  // overwrite an existing adapter directory
};

struct PretrainResult {
  TextRegressorResult fit;
  RatingMetrics test;
  ClassMetrics test_classes;
  nlohmann::json per_domain = nlohmann::json::array();  // test metrics per file
  double seconds = 0.0;
};

PretrainResult run_pretrain(const PretrainOptions& options);

// Metrics as JSON: {"n", "mse", "rmse", "mae"} plus precision/recall/f1/accuracy when given.
nlohmann::json metrics_json(const RatingMetrics& m, const ClassMetrics* c = nullptr);

// Refuses to write into an existing non-empty directory unless `force`.
void check_output_dir(const std::string& dir, bool force, const char* what);

}  // namespace loid
