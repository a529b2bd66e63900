// The stages of a LoID run (loid_train.h), one function each, in the order of the data flow:
// target data and histories -> encoder with plugins and a target adapter -> Re-LoRA -> review
// vectors -> LoID model -> LoID fit with early stopping -> evaluation. `run_loid_train`, `loid
// bench` and `loid demo` are these stages in sequence; tests run them one at a time.
// Every random draw of a stage comes from the seeds of RunSeeds, passed in explicitly.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/context.h"
#include "data/history.h"
#include "nn/encoder.h"
#include "rec/loid_model.h"
#include "train/loid_train.h"
#include "train/setup.h"

namespace loid {

using StageLog = std::function<void(const std::string&)>;

// The random streams of a run, all derived from the run's seed (its split seed) here and nowhere
// else, and recorded in config.json ("seeds"). Each stage reseeds torch's global generator from its
// own entry before it draws, so no stage's draws depend on what ran before it.
struct RunSeeds {
  std::uint64_t run = 1;             // the split seed
  std::uint64_t target_adapter = 1;  // torch generator before the target LoRA's A matrices: run
  std::uint64_t relora = 1;          // Re-LoRA: rating head (torch) and review order: run
  std::uint64_t model = 1;           // torch generator before the LoID model is built: run + 0x10
  std::uint64_t fitted_start = 1;    // the biases / MF the model may start from: run
  std::uint64_t contexts = 1;        // the fixed evaluation contexts: run
  // Epoch e of the LoID fit: torch's generator (dropout) and the Rng of the batch order and the
  // training contexts. A resumed run replays epoch e exactly.
  std::uint64_t epoch_torch(int epoch) const;
  Rng epoch_rng(int epoch) const;
};
RunSeeds run_seeds(std::uint64_t run_seed);
nlohmann::json run_seeds_json(const RunSeeds& seeds);

// Rows of one split part: user, item, review id and rating per row.
struct SplitRows {
  std::vector<std::int64_t> user, item, review;
  std::vector<float> rating;
  std::size_t size() const { return rating.size(); }
};
SplitRows split_rows(const Dataset& dataset, const std::vector<std::int64_t>& ids);

// Stage 1: the target domain read and split, its histories (training reviews only unless the
// protocol is paper-leaky) and what they can show.
struct TargetData {
  DomainData domain;
  HistoryIndex index;                    // training reviews by user and item (cold-start counts)
  Histories histories;                   // what contexts draw from (protocol-dependent)
  std::vector<std::int64_t> visible;     // every review id a context can show, ascending
  std::int64_t held_out_texts_seen = 0;  // held-out reviews repeating a training text
  SplitRows train, validation;
};
// Throws Error when a leak-free history shows a held-out review (an internal check).
TargetData load_target_data(const LoidTrainOptions& options, const StageLog& log);

// Stage 2: the encoder with its source plugins (frozen) and, when Re-LoRA or end-to-end training
// needs one, a fresh target adapter drawn from seeds.target_adapter. All parameters frozen.
struct TargetEncoder {
  std::unique_ptr<Encoder> encoder;
  std::string dir;         // the resolved encoder directory
  LoraConfig lora;         // the target's settings with the resolved module list
  nlohmann::json plugins;  // what was attached (provenance for metrics and adapters)
  bool has_target = false;
};
// The encoder moves to `device` before the target adapter is injected (which follows it there).
TargetEncoder load_target_encoder(const LoidTrainOptions& options, const RunSeeds& seeds,
                                  const torch::Device& device = torch::kCPU);

// Stage 3: Re-LoRA. Trains the target adapter (text -> rating on the training reviews, epoch
// chosen on validation) and saves it as a PEFT directory under run_dir, or loads the finished one
// when `resume` and it is there. Returns the stage's record for metrics.json ({"epochs_run": 0}
// when options.relora.epochs is 0). Leaves the encoder frozen, in eval mode.
nlohmann::json run_relora(TargetEncoder& target, const TargetData& data,
                          const LoidTrainOptions& options, const RunSeeds& seeds,
                          const std::string& run_dir, bool resume, const StageLog& log);

// Stage 4: the (R, D) table of review vectors, rows of `ids` encoded and the rest zero; saved to
// run_dir (frozen mode) or read back from there when `resume` and the file is present.
torch::Tensor review_vector_table(Encoder& encoder, const DomainData& domain,
                                  const std::vector<std::int64_t>& ids, bool progress,
                                  ComputeDtype dtype = ComputeDtype::kFloat32);
torch::Tensor review_vectors(const TargetEncoder& target, const TargetData& data,
                             const LoidTrainOptions& options, const std::string& run_dir,
                             bool resume, const StageLog& log);

// Stage 5: the LoID model, initialised from seeds.model. With fit_id_biases its biases, with the
// mf+text predictor a biased MF (biases and factors), are fitted on the training ratings
// (seeds.fitted_start), kept fixed (mf+text with text factors: trained on, regularised), and the
// prediction MLP's output set to zero, so that the model starts as that classical model.
// `fit_start` false (resuming) skips setting the fitted values.
LoidModelOptions loid_model_options(const LoidTrainOptions& options, std::int64_t num_users,
                                    std::int64_t num_items, std::int64_t text_width,
                                    float mean_rating);
// Whether the model starts from a classical fit (--fit-id-biases, or the mf+text predictor).
bool starts_from_fit(const LoidTrainOptions& options);
// vectors: the (R, D) review-vector table (its width sizes the model; the rows of training reviews
// whiten the text factors).
LoidModel build_loid_model(const LoidTrainOptions& options, const TargetData& data,
                           const torch::Tensor& vectors, const RunSeeds& seeds, bool fit_start,
                           const StageLog& log);

// The model's parameters and buffers by name (model.safetensors).
std::map<std::string, torch::Tensor> loid_model_state(const LoidModelImpl& model);

// Stage 6: LoID training with early stopping on validation MSE, checkpointed after every epoch in
// run_dir/checkpoint (resumed from there when `resume`). The best epoch's state is restored into
// the model (and the encoder's target adapter in end-to-end mode). `vectors` is updated in
// end-to-end mode. `after_epoch` (tests) is called after each epoch's checkpoint with the epoch
// number; returning false stops the fit there as if the process had been killed.
struct LoidFit {
  int epochs_run = 0;
  int best_epoch = 0;
  double best_validation_mse = 0.0;
  nlohmann::json curve = nlohmann::json::array();
  bool interrupted = false;  // after_epoch stopped it
};
LoidFit fit_loid(LoidModel& model, TargetEncoder& target, const TargetData& data,
                 torch::Tensor& vectors, const LoidTrainOptions& options, const RunSeeds& seeds,
                 const std::string& run_dir, bool resume, const StageLog& log,
                 const std::function<bool(int)>& after_epoch = {});

// Stage 7: validation and test metrics (the test split read here), cold-start subsets, and the
// records of the other stages, as metrics.json holds them.
nlohmann::json evaluate_loid(LoidModel& model, const TargetData& data, const torch::Tensor& vectors,
                             const LoidTrainOptions& options, const RunSeeds& seeds);

}  // namespace loid
