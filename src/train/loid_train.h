// `loid train`: the LoID method on one target domain, end to end, into a run directory.
//   1. Re-LoRA: encoder + frozen source plugins (stacked or merged) + a new trainable target LoRA,
//      trained on the target's training reviews (review text -> rating), epoch chosen on
//      validation.
//   2. Text vectors of every review a history may show (training reviews only, by construction).
//   3. The LoID model (ID-text attention, triplet alignment, MLP) trained with early stopping on
//      validation MSE; the best epoch restored; the test split scored once, overall and for
//      cold-start subsets.
// Encoder modes: frozen (vectors computed once after Re-LoRA) or end-to-end (the target adapter
// keeps training with the LoID loss; each batch encodes each distinct review once).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/device.h"
#include "data/context.h"
#include "data/split.h"
#include "eval/metrics.h"
#include "nn/lora.h"
#include "rec/loid_model.h"
#include "train/setup.h"
#include "train/text_regressor.h"

namespace loid {

// How the encoder takes part in the LoID stage.
enum class EncoderMode {
  kFrozen,    // review vectors computed once after Re-LoRA
  kEndToEnd,  // the target adapter keeps training with the LoID loss
};
std::string to_string(EncoderMode mode);  // "frozen", "end-to-end"
// Throws UsageError naming the valid values.
EncoderMode parse_encoder_mode(const std::string& name);

struct LoidTrainOptions {
  std::string data;         // target-domain reviews file
  std::string encoder_dir;  // "" = installed default (USE-Lite)
  std::string out;          // run directory
  SplitOptions split;       // --seed and --split-ratios: the same split as `loid data split`
  ReadOptions read;         // --text, --duplicates, ...: how the data file is read
  PluginOptions plugins;    // source plugins and how they join
  Protocol protocol = Protocol::kLeakFree;
  EncoderMode encoder_mode = EncoderMode::kFrozen;
  // The encoder's arithmetic in Re-LoRA and for the review vectors (nn/precision.h); bf16 needs
  // frozen mode. Recorded in the settings only when not fp32, so fp32 configs read as before.
  ComputeDtype compute_dtype = ComputeDtype::kFloat32;

  // Re-LoRA (target adapter) stage.
  LoraConfig lora;                 // r 32, alpha 32, dropout 0.1, encoder's default targets
  TextRegressorOptions relora;     // epochs (0 skips the stage), batch, learning rate
  std::int64_t head_hidden = 256;  // rating head of the Re-LoRA stage
  double head_dropout = 0.1;

  // LoID model.
  std::size_t k = 5;            // context reviews per user and per item
  std::int64_t embed_size = 0;  // 0 = encoder width
  std::int64_t heads = 4;
  std::int64_t hidden = 256;  // prediction MLP
  double dropout = 0.1;
  double lambda = 0.2;     // weight of the triplet loss
  double margin = 1.0;     // triplet margin D
  bool id_biases = false;  // extra user/item biases (not in the paper)
  // With id_biases: start from the biases-only model (mu + b_u + b_i fitted on the training
  // ratings, regularisation chosen on validation, then kept fixed), the prediction MLP's last
  // layer at zero, and that starting point kept as "epoch 0" for early stopping. LoID then learns
  // what the review texts add to the biases, and is never chosen worse than them on validation. Not
  // in the paper.
  bool fit_id_biases = false;
  // kMfText (--predictor mf+text): the prediction is a biased MF plus the text part. The MF is
  // fitted on the training ratings first (factors and regularisation chosen on validation over the
  // grids below), kept fixed, the text part starts at zero, and that MF competes as "epoch 0" in
  // early stopping: LoID then learns what the review texts add to the MF. Not in the paper.
  LoidPredictor predictor = LoidPredictor::kMlp;
  std::vector<int> mf_factors = {4, 8, 16, 32};                              // mf+text grid
  std::vector<double> mf_regularization = {0.01, 0.05, 0.1, 0.2, 0.5, 1.0};  // mf+text grid
  // mf+text: text factors of this many whitened dimensions (LoidModelOptions::text_factors; 0 =
  // off). With them the fitted MF keeps training, under its own L2 regularisation, jointly with
  // the text-factor maps (L2 weight text_factor_regularization). Not in the paper.
  std::int64_t text_factors = 64;
  double text_factor_regularization = 0.01;
  double learning_rate = 1e-3;  // Adam
  double weight_decay = 0.0;
  std::int64_t batch_size = 64;
  int epochs = 30;                  // upper bound
  int patience = 3;                 // early stopping on validation MSE
  double e2e_learning_rate = 1e-4;  // end-to-end: the target adapter's Adam rate

  // Frozen mode: take the Re-LoRA adapter and review vectors of another run instead of recomputing
  // them; every setting they depend on (data, split, encoder, plugins, LoRA, Re-LoRA, protocol)
  // must be equal. For trying LoID settings without paying for the text stages again.
  std::string reuse_text_stage;
  int threads = 0;  // 0 = all cores
  // Where the encoder, the LoID model, their optimiser state and every batch live. Recorded in the
  // settings only when not cpu (configs without it read as cpu); --resume may change it.
  DeviceSpec device;
  bool resume = false;  // continue an interrupted run in `out`
  bool force = false;   // overwrite a finished or foreign run directory
  bool progress = true;
};

// Hooks into a run for tests.
struct LoidTrainHooks {
  // Called after each LoID epoch's checkpoint (not after the last) with the epoch number;
  // returning false ends the call there as if the process had been killed (the checkpoint stays,
  // metrics are not written), for tests of --resume.
  std::function<bool(int)> after_epoch;
};

struct LoidTrainResult {
  nlohmann::json metrics;  // as written to metrics.json (null when interrupted)
  double seconds = 0.0;
  bool interrupted = false;  // a hook ended the call early
};

LoidTrainResult run_loid_train(const LoidTrainOptions& options, const LoidTrainHooks& hooks = {});

// Files of a run directory.
constexpr const char* kRunConfig = "config.json";
constexpr const char* kRunMetrics = "metrics.json";
constexpr const char* kRunModel = "model.safetensors";
constexpr const char* kRunVectors = "review_vectors.safetensors";
constexpr const char* kRunTargetAdapter = "adapters/target";
constexpr const char* kRunLog = "train.log";
constexpr const char* kRunReport = "report.md";
constexpr const char* kRunCurve = "learning_curve.svg";
constexpr const char* kRunCheckpoint = "checkpoint";

}  // namespace loid
