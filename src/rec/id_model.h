// What the ID-based baselines ALFM (rec/alfm.h), BiGI (rec/bigi.h) and RGCL (rec/rgcl.h) share:
// the model interface (a training row is predicted with everything derived from its own review or
// edge left out), the training loop (Adam, seeded batches, early stopping on validation with
// best-epoch restore), the small validation grid, edge aggregation for the graph models, and the
// result the bench reads.
//
// Leak rules, as for the text baselines: every input a model builds (topics, graphs, review
// vectors) comes from split.train only; a training row's prediction never reads its own review or
// edge; validation ratings choose the epoch and the grid point; test rows are predicted once, by
// the chosen model.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"
#include "rec/mf.h"

namespace loid {

// Rows (user, item, rating) as tensors.
struct RowTensors {
  torch::Tensor users, items;  // (N) int64 dense ids
  torch::Tensor ratings;       // (N) float32
  std::int64_t size() const { return ratings.defined() ? ratings.size(0) : 0; }
};
RowTensors row_tensors(const RatingRows& rows);

// An embedding table of max(n, 1) rows of width d: weights drawn from N(0, stddev), or zeros when
// stddev is 0 (biases).
torch::nn::Embedding id_table(std::int64_t n, std::int64_t d, double stddev);

// A rating model over user and item ids that may read the training rows.
class IdRatingModelImpl : public torch::nn::Module {
 public:
  // Training rows `rows` ((B) int64 indices into the training rows, no repeats): unclamped
  // predictions (B), computed with every input derived from these rows' own reviews or edges left
  // out, and an auxiliary loss (a scalar, 0 when the model has none) added to the MSE.
  virtual std::pair<torch::Tensor, torch::Tensor> train_forward(const torch::Tensor& rows) = 0;
  // Unclamped predictions (B) for pairs that are not training rows (every training row visible).
  virtual torch::Tensor predict(const torch::Tensor& users, const torch::Tensor& items) = 0;
};

struct IdTrainOptions {
  std::string name = "model";     // in log lines and errors
  std::uint64_t seed = 1;         // batch order and the models' sampling
  double learning_rate = 1e-3;    // Adam
  double weight_decay = 0.0;      // Adam's L2 on every parameter
  std::int64_t batch_size = 256;  // training rows per step
  int max_epochs = 50;            // upper bound on passes over the training rows
  int patience = 5;               // epochs without a validation improvement before stopping
  bool progress = false;          // a progress bar per epoch
  // fit_id_grid: true, the grid's weight decay is Adam's; false, it is the model's own (an L2 term
  // on the rows a batch reads, in its auxiliary loss) and Adam's stays 0.
  bool grid_decay_in_adam = true;
};

// The training settings every ID model's options carry (seed, learning_rate, batch_size,
// max_epochs, patience, progress), copied from a model's option struct.
template <class ModelOptions>
IdTrainOptions id_train_options(const std::string& name, const ModelOptions& o) {
  IdTrainOptions t;
  t.name = name;
  t.seed = o.seed;
  t.learning_rate = o.learning_rate;
  t.batch_size = o.batch_size;
  t.max_epochs = o.max_epochs;
  t.patience = o.patience;
  t.progress = o.progress;
  return t;
}

struct IdFitResult {
  int best_epoch = 0;                // epoch restored (0: no epoch beat the untrained model)
  double best_validation_mse = 0.0;  // validation MSE of the restored parameters
  std::vector<double> epoch_losses;  // mean training loss (MSE + auxiliary) of each epoch run
};

// Adam on the model's parameters over batches of the training rows (a seeded order per epoch),
// validation MSE after every epoch, the best epoch's parameters restored. Throws UsageError for bad
// options, Error when the loss stops being finite.
IdFitResult fit_id_model(IdRatingModelImpl& model, const RowTensors& train,
                         const RowTensors& validation, const IdTrainOptions& options);

// Predictions for held-out rows, clamped to [1, 5], in row order (eval mode, no gradients).
std::vector<float> predict_rows(IdRatingModelImpl& model, const RowTensors& rows);

// One point of a validation grid: the embedding (factor) size and Adam's weight decay.
struct IdGridPoint {
  std::int64_t dim = 32;
  double weight_decay = 0.0;
};

// What a baseline returns to the bench.
struct IdBaselineResult {
  std::vector<float> validation_predictions;  // clamped to [1, 5], order of split.validation
  std::vector<float> test_predictions;        // clamped to [1, 5], order of split.test
  IdGridPoint chosen;                         // the grid point with the lowest validation MSE
  IdFitResult fit;                            // of the chosen grid point
  double seconds = 0.0;                       // wall time of the whole call
};

// Builds a fresh model for a grid point (after torch::manual_seed(seed)).
using IdModelFactory = std::function<std::shared_ptr<IdRatingModelImpl>(const IdGridPoint&)>;

// Fits one model per point of dims x weight_decays, keeps the one with the lowest validation MSE
// (the first on ties) and predicts the test rows with it only.
IdBaselineResult fit_id_grid(const IdModelFactory& make, const Dataset& dataset, const Split& split,
                             const std::vector<std::int64_t>& dims,
                             const std::vector<double>& weight_decays, IdTrainOptions options);

// The ID baselines the bench knows, in a fixed order: alfm, bigi, rgcl.
const std::vector<std::string>& id_baseline_names();
bool is_id_baseline(const std::string& model);

// Sum of edge messages per node: out[index[e]] += messages[e] -> (n, D) from (E, D) and (E).
torch::Tensor scatter_sum(const torch::Tensor& messages, const torch::Tensor& index,
                          std::int64_t n);

// The indices 0..n-1 without `drop` ((B) int64) -> (n - B) int64, ascending.
torch::Tensor all_but(std::int64_t n, const torch::Tensor& drop);

}  // namespace loid
