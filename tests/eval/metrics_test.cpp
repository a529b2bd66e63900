// Metrics against a hand-computed example (worked out in the comments).
#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

// Classes 1..3 are absent from the targets (class 2 is predicted once): they carry no weight, and
// their recall (0 / 0) must not turn the means into NaN. Per class (support, precision, recall,
// F1): 4: (3, 2/3, 2/3, 2/3)  5: (2, 1, 1/2, 2/3).
TEST(Metrics, ClassesAbsentFromTheTargetsCarryNoWeight) {
  const ClassMetrics m = rounded_class_metrics({5.1f, 4.2f, 3.6f, 4.4f, 2.3f}, {5, 5, 4, 4, 4});
  EXPECT_NEAR(m.precision, (3 * 2.0 / 3 + 2 * 1.0) / 5, 1e-9);
  EXPECT_NEAR(m.recall, (3 * 2.0 / 3 + 2 * 0.5) / 5, 1e-9);
  EXPECT_NEAR(m.f1, (3 * 2.0 / 3 + 2 * 2.0 / 3) / 5, 1e-9);
  EXPECT_NEAR(m.accuracy, 3.0 / 5, 1e-9);
}

// Predictions outside the stars count as the nearest star: 0.2 and -3 as 1, 5.7 and 9 as 5.
// Confusion: (t2, p1), (t3, p1), (t5, p5), (t4, p5); only class 5 has a hit (precision 1/2,
// recall 1, F1 2/3), each class 2..5 has support 1.
TEST(Metrics, PredictionsOutsideTheStarsCountAsTheNearestStar) {
  const ClassMetrics m = rounded_class_metrics({0.2f, -3.0f, 5.7f, 9.0f}, {2, 3, 5, 4});
  EXPECT_NEAR(m.precision, 0.5 / 4, 1e-9);
  EXPECT_NEAR(m.recall, 1.0 / 4, 1e-9);
  EXPECT_NEAR(m.f1, (2.0 / 3) / 4, 1e-9);
  EXPECT_NEAR(m.accuracy, 1.0 / 4, 1e-9);
}

// Predictions beyond int's range are clamped before any conversion (undefined behaviour, caught
// by the sanitized build, and 1 star for +1e30 on x86 before): 1e30 and +inf count as 5, -1e30
// and -inf as 1, NaN as 1. Confusion: (t5, p5), (t5, p5), (t1, p1), (t1, p1), (t2, p1).
TEST(Metrics, HugeAndNonFinitePredictionsCountAsTheEndStars) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const ClassMetrics m = rounded_class_metrics({1e30f, inf, -1e30f, -inf, nan}, {5, 5, 1, 1, 2});
  EXPECT_NEAR(m.accuracy, 4.0 / 5, 1e-9);
  // class 1: support 2, precision 2/3, recall 1; class 2: support 1, all 0; class 5: all 1.
  EXPECT_NEAR(m.precision, (2 * 2.0 / 3 + 0 + 2 * 1.0) / 5, 1e-9);
  EXPECT_NEAR(m.recall, 4.0 / 5, 1e-9);
  EXPECT_NEAR(m.f1, (2 * 0.8 + 0 + 2 * 1.0) / 5, 1e-9);
}

TEST(Metrics, SizeMismatchThrows) {
  EXPECT_THROW(rating_metrics({1.0f}, {1.0f, 2.0f}), UsageError);
  EXPECT_EQ(rating_metrics({}, {}).n, 0);
}

}  // namespace
}  // namespace loid
