// Classical rating baselines on the same splits as LoID: the global mean, user+item biases, and
// biased matrix factorisation trained by SGD with early stopping on validation.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace loid {

// (user, item, rating) rows of a subset of a dataset's reviews.
struct RatingRows {
  std::vector<std::int64_t> user;
  std::vector<std::int64_t> item;
  std::vector<float> rating;
  std::size_t size() const { return rating.size(); }
};
RatingRows rating_rows(const Dataset& dataset, const std::vector<std::int64_t>& review_ids);

struct MfOptions {
  int factors = 8;               // latent size k; 0 gives the biases-only model
  double learning_rate = 0.01;   // SGD step
  double regularization = 0.05;  // L2 on biases and factors
  double init_std = 0.1;         // factor initialisation scale
  int max_epochs = 200;          // upper bound on passes over the training rows
  int patience = 5;              // epochs without a validation improvement before stopping
  std::uint64_t seed = 1;        // initialisation and row order
};

// r = mu + b_u + b_i + p_u . q_i, clamped to [1, 5]. Users or items without training rows use only
// the terms that were trained (a cold user has b_u = 0 and no factor term).
class BiasedMf {
 public:
  // Trains on `train`; keeps the parameters of the epoch with the lowest validation MSE.
  void fit(const RatingRows& train, const RatingRows& validation, std::int64_t num_users,
           std::int64_t num_items, const MfOptions& options);
  float predict(std::int64_t user, std::int64_t item) const;
  std::vector<float> predict(const RatingRows& rows) const;
  int best_epoch() const { return best_epoch_; }
  double best_validation_mse() const { return best_validation_mse_; }
  // The fitted terms: mu, and b_u / b_i per user / item id (0 for ids without training rows).
  float mean() const { return mu_; }
  const std::vector<float>& user_biases() const { return bu_; }
  const std::vector<float>& item_biases() const { return bi_; }
  int factors() const { return k_; }
  // The fitted factors, (num ids, factors) row-major; ids without training rows have zero rows
  // (predict gives them no factor term).
  std::vector<float> user_factors() const;
  std::vector<float> item_factors() const;

 private:
  int k_ = 0;
  float mu_ = 0.0f;
  std::vector<float> bu_, bi_, p_, q_;  // p_: num_users x k, q_: num_items x k
  std::vector<std::uint8_t> user_seen_, item_seen_;
  int best_epoch_ = 0;
  double best_validation_mse_ = 0.0;
};

// Fits BiasedMf for every (factors, regularization) pair of the grid and returns the one with the
// lowest validation MSE (the test split is not looked at).
BiasedMf select_mf(const RatingRows& train, const RatingRows& validation, std::int64_t num_users,
                   std::int64_t num_items, const std::vector<int>& factor_grid,
                   const std::vector<double>& regularization_grid, MfOptions base,
                   MfOptions* chosen = nullptr);

// Mean of the training ratings (accumulated in double); throws UsageError when there are none.
float global_mean(const RatingRows& train);
float global_mean(const std::vector<float>& ratings);

}  // namespace loid
