#include "eval/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"

namespace loid {

namespace {
void check_sizes(const std::vector<float>& p, const std::vector<float>& t) {
  if (p.size() != t.size()) {
    throw UsageError("metrics: " + std::to_string(p.size()) + " predictions for " +
                     std::to_string(t.size()) + " targets");
  }
}

// Clamped before the conversion to int, which is undefined for values beyond int's range (and
// gave 1 star for +1e30 on x86). NaN counts as 1 star.
int star(float r) {
  if (std::isnan(r)) return 1;
  return static_cast<int>(std::clamp(std::floor(r + 0.5f), 1.0f, 5.0f));
}
}  // namespace

RatingMetrics rating_metrics(const std::vector<float>& predictions,
                             const std::vector<float>& targets) {
  check_sizes(predictions, targets);
  RatingMetrics m;
  m.n = static_cast<std::int64_t>(targets.size());
  if (m.n == 0) return m;
  double se = 0.0, ae = 0.0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const double d = static_cast<double>(predictions[i]) - static_cast<double>(targets[i]);
    se += d * d;
    ae += std::abs(d);
  }
  m.mse = se / static_cast<double>(m.n);
  m.rmse = std::sqrt(m.mse);
  m.mae = ae / static_cast<double>(m.n);
  return m;
}

ClassMetrics rounded_class_metrics(const std::vector<float>& predictions,
                                   const std::vector<float>& targets) {
  check_sizes(predictions, targets);
  ClassMetrics m;
  if (targets.empty()) return m;
  // confusion[t][p] for stars 1..5 at indices 0..4
  std::array<std::array<double, 5>, 5> confusion{};
  for (std::size_t i = 0; i < targets.size(); ++i) {
    confusion[star(targets[i]) - 1][star(predictions[i]) - 1] += 1.0;
  }
  const double n = static_cast<double>(targets.size());
  double correct = 0.0;
  for (int c = 0; c < 5; ++c) {
    double support = 0.0, predicted = 0.0;
    for (int k = 0; k < 5; ++k) {
      support += confusion[c][k];
      predicted += confusion[k][c];
    }
    const double tp = confusion[c][c];
    correct += tp;
    if (support == 0.0) continue;
    const double precision = predicted > 0.0 ? tp / predicted : 0.0;
    const double recall = tp / support;
    const double f1 =
        precision + recall > 0.0 ? 2.0 * precision * recall / (precision + recall) : 0.0;
    const double w = support / n;
    m.precision += w * precision;
    m.recall += w * recall;
    m.f1 += w * f1;
  }
  m.accuracy = correct / n;
  return m;
}

}  // namespace loid
