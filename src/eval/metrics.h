// Rating-prediction metrics: MSE (the paper's primary metric), RMSE, MAE, and the weighted
// precision / recall / F1 of the rounded rating (the paper's Table 3).
#pragma once

#include <cstdint>
#include <vector>

namespace loid {

struct RatingMetrics {
  std::int64_t n = 0;  // number of predictions scored
  double mse = 0.0;    // mean squared error
  double rmse = 0.0;   // sqrt(mse)
  double mae = 0.0;    // mean absolute error
};

// predictions and targets have the same length; throws UsageError otherwise. Empty input gives n=0
// and zeros.
RatingMetrics rating_metrics(const std::vector<float>& predictions,
                             const std::vector<float>& targets);

struct ClassMetrics {
  double precision = 0.0;  // support-weighted mean of per-class precision over classes 1..5
  double recall = 0.0;     // support-weighted mean of per-class recall (= accuracy)
  double f1 = 0.0;         // support-weighted mean of per-class F1
  double accuracy = 0.0;
};

// Rounds predictions and targets to the nearest star in 1..5 (halves round up; values beyond the
// stars, infinities included, to 1 or 5; NaN to 1) and scores them as a 5-class problem; classes
// absent from the targets carry zero weight (scikit-learn's "weighted").
ClassMetrics rounded_class_metrics(const std::vector<float>& predictions,
                                   const std::vector<float>& targets);

}  // namespace loid
