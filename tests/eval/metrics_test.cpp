// Metrics against a hand-computed example (worked out in the comments).
#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace loid {
namespace {

// predictions round to 1,3,3,5,5,2,5,1; squared errors .04,.16,.16,.25,0,.16,3.61,1 (sum 5.38);
// absolute errors sum 4.8. Per class (support, precision, recall, F1):
// 1: (1, 1/2, 1, 2/3)  2: (2, 1, 1/2, 2/3)  3: (3, 1, 2/3, 4/5)  4: (1, 0, 0, 0)  5: (1, 1/3, 1,
// 1/2)
const std::vector<float> kPred = {1.2f, 2.6f, 3.4f, 4.5f, 5.0f, 2.4f, 4.9f, 1.0f};
const std::vector<float> kTrue = {1, 3, 3, 4, 5, 2, 3, 2};

TEST(Metrics, RatingErrors) {
  const RatingMetrics m = rating_metrics(kPred, kTrue);
  EXPECT_EQ(m.n, 8);
  EXPECT_NEAR(m.mse, 5.38 / 8, 1e-6);
  EXPECT_NEAR(m.rmse, std::sqrt(5.38 / 8), 1e-6);
  EXPECT_NEAR(m.mae, 4.8 / 8, 1e-6);
}

TEST(Metrics, WeightedClassScores) {
  const ClassMetrics m = rounded_class_metrics(kPred, kTrue);
  EXPECT_NEAR(m.precision, (0.5 + 2 * 1.0 + 3 * 1.0 + 0 + 1.0 / 3) / 8, 1e-9);
  EXPECT_NEAR(m.recall, 5.0 / 8, 1e-9);
  EXPECT_NEAR(m.f1, (2.0 / 3 + 2 * 2.0 / 3 + 3 * 0.8 + 0 + 0.5) / 8, 1e-9);
  EXPECT_NEAR(m.accuracy, 5.0 / 8, 1e-9);
}

TEST(Metrics, SizeMismatchThrows) {
  EXPECT_THROW(rating_metrics({1.0f}, {1.0f, 2.0f}), UsageError);
  EXPECT_EQ(rating_metrics({}, {}).n, 0);
}

}  // namespace
}  // namespace loid
