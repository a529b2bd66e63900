// A finished training run loaded for inference: `loid eval`, `loid predict`, `loid recommend` and
// the HTTP service. The run's data file is re-read and re-split with the run's seed (its
// fingerprint must match), histories and evaluation contexts are rebuilt exactly as in training,
// and the saved review vectors and model weights are loaded; no encoder is needed for known users
// and items.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "data/context.h"
#include "data/dataset.h"
#include "data/history.h"
#include "data/reader.h"
#include "data/split.h"
#include "nn/encoder.h"
#include "nn/precision.h"
#include "rec/loid_explain.h"
#include "rec/loid_model.h"
#include "train/loid_train.h"

namespace loid {

// Why the run predicts a rating for one pair: the evaluation contexts the prediction reads (review
// ids, -1 on empty slots, in slot order) and the model's parts and attention weights over them.
struct PairExplanation {
  std::vector<std::int64_t> user_reviews, item_reviews;  // k each
  LoidExplanation parts;
};

class LoadedRun {
 public:
  // Throws InputError naming the file when the run is incomplete, the data file changed, or a
  // tensor is missing.
  // `encoder_device`: where the encoder of new users' review texts runs (predict_for_texts;
  // `loid serve --device`). The model and its tables stay in host memory: scoring a pair is a few
  // small products that a GPU's transfers would only slow down.
  explicit LoadedRun(const std::string& run_dir, const DeviceSpec& encoder_device = {});
  ~LoadedRun();

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  // config.json's "settings" as typed options (train/run_config.h).
  const LoidTrainOptions& settings() const { return settings_; }
  const nlohmann::json& metrics() const { return metrics_; }
  const Dataset& dataset() const { return dataset_; }
  const Split& split() const { return split_; }
  bool leaky() const { return protocol_ == Protocol::kPaperLeaky; }

  // Clamped predictions for dense (user, item) ids; -1 (unknown) takes the model's cold path.
  // predict, recommend and predict_for_texts may be called from several threads at once.
  std::vector<float> predict(const std::vector<std::int64_t>& users,
                             const std::vector<std::int64_t>& items) const;

  // The same predictions (clamped unless `clamp` is false) from tables precomputed once per run
  // (LoidPrecomputed: the fixed contexts' keys and folded values, the IDs' queries), equal to
  // predict() up to float rounding (1e-5); rows with an unknown id take predict()'s path. Builds
  // the tables on first use; the serving path.
  std::vector<float> predict_precomputed(const std::vector<std::int64_t>& users,
                                         const std::vector<std::int64_t>& items,
                                         bool clamp = true) const;
  // Builds those tables now (`loid serve` does at start, so no request waits for them) and returns
  // them.
  const LoidPrecomputed& precomputed() const;

  // The explanation of predict({user}, {item}) (-1 for an unknown id: an empty context); its
  // parts.prediction is that prediction before clamping. Safe from several threads at once.
  PairExplanation explain(std::int64_t user, std::int64_t item) const;

  // Items ranked by predicted rating for a known user; exclude_rated leaves out the items the user
  // rated in the run's training split; scored by predict_precomputed once its tables are built
  // (serving), else by predict()'s path. Returns (item id, score), best first, at most `top`.
  std::vector<std::pair<std::int64_t, float>> recommend(std::int64_t user, std::size_t top,
                                                        bool exclude_rated) const;

  // A user the model has no ID for, described by review texts (first k used): the texts are
  // encoded with the run's encoder, plugins and target adapter (loaded on first use).
  std::vector<float> predict_for_texts(const std::vector<std::string>& user_texts,
                                       const std::vector<std::int64_t>& items);

  // Test-split metrics recomputed from the saved model (equal to metrics.json["test"]).
  nlohmann::json evaluate_test() const;
  // Metrics on every review of another file, users and items matched by name (unknown ones take
  // the cold path), with known/unknown subsets; `overlap` counts reviews whose (user, item) pair is
  // in the run's training split.
  nlohmann::json evaluate_file(const std::string& path) const;

  std::size_t k() const { return sampler_->k(); }
  // The encoder arithmetic of the run (settings "compute_dtype"; fp32 when absent).
  ComputeDtype compute_dtype() const { return settings_.compute_dtype; }
  std::int64_t max_text_length() const;  // the encoder's token limit (loads it)

 private:
  Encoder& encoder();
  std::string dir_;
  nlohmann::json config_, metrics_;
  LoidTrainOptions settings_;  // read (eval files are read alike), compute dtype, encoder, ...
  Dataset dataset_;
  Split split_;
  std::unique_ptr<HistoryIndex> index_;
  Histories histories_;
  Protocol protocol_ = Protocol::kLeakFree;
  std::unique_ptr<ContextSampler> sampler_;
  torch::Tensor vectors_;  // (R, D)
  mutable LoidModel model_{nullptr};
  mutable std::once_flag precomputed_once_;
  mutable std::unique_ptr<LoidPrecomputed> precomputed_;  // built by precomputed()
  mutable std::atomic<bool> precomputed_ready_{false};
  std::uint64_t context_seed_ = 1;
  std::unique_ptr<Encoder> encoder_;  // loaded lazily for predict_for_texts
  DeviceSpec encoder_device_;         // where encoder_ runs
  mutable std::mutex encoder_mutex_;  // guards loading and using encoder_ (serving threads)
};

}  // namespace loid
