// Seed statistics against values worked out by hand, and Student's t quantiles against closed
// forms (df 1 and 2) and printed tables.
#include "eval/stats.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace loid {
namespace {

constexpr double kPi = 3.14159265358979323846;

TEST(StudentT, ClosedFormsForOneAndTwoDegreesOfFreedom) {
  // df = 1 is the Cauchy distribution: the p-quantile is tan(pi (p - 1/2)).
  for (double p : {0.6, 0.9, 0.975, 0.995})
    EXPECT_NEAR(student_t_quantile(p, 1.0), std::tan(kPi * (p - 0.5)),
                1e-8 * std::tan(kPi * (p - 0.5)));
  // df = 2: t = q sqrt(2 / (1 - q^2)) with q = 2p - 1.
  for (double p : {0.6, 0.9, 0.975, 0.995}) {
    const double q = 2.0 * p - 1.0;
    EXPECT_NEAR(student_t_quantile(p, 2.0), q * std::sqrt(2.0 / (1.0 - q * q)), 1e-8);
  }
}

TEST(StudentT, TableValuesSymmetryAndNormalLimit) {
  // Printed t tables (two-sided 95%): 2.776 (df 4), 2.571 (df 5), 2.228 (df 10), 2.042 (df 30).
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.7764451, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.975, 5), 2.5705818, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.2281389, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.0422725, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.025, 4), -2.7764451, 1e-6);
  EXPECT_EQ(student_t_quantile(0.5, 3), 0.0);
  EXPECT_NEAR(student_t_quantile(0.975, 1e7), 1.9599640, 1e-5);  // the normal quantile
  EXPECT_THROW(student_t_quantile(1.0, 3), UsageError);
  EXPECT_THROW(student_t_quantile(0.9, 0), UsageError);
}

TEST(SeedStats, HandComputedValues) {
  // 1..5: mean 3, sample variance (4+1+0+1+4)/4 = 2.5, std 1.58113883; the 95% half-width is
  // t_{0.975}(4) * std / sqrt(5) = 2.7764451 * 0.70710678 = 1.9632432.
  const SeedStats s = seed_stats({1, 2, 3, 4, 5});
  EXPECT_EQ(s.n, 5);
  EXPECT_DOUBLE_EQ(s.mean, 3.0);
  EXPECT_NEAR(s.std, 1.5811388, 1e-7);
  EXPECT_NEAR(s.ci_low, 3.0 - 1.9632432, 1e-6);
  EXPECT_NEAR(s.ci_high, 3.0 + 1.9632432, 1e-6);

  // Two values 0.8 and 1.0: mean 0.9, std 0.14142136; half-width 12.7062047 * 0.1 = 1.2706205.
  const SeedStats two = seed_stats({0.8, 1.0});
  EXPECT_NEAR(two.mean, 0.9, 1e-12);
  EXPECT_NEAR(two.std, 0.14142136, 1e-8);
  EXPECT_NEAR(two.ci_high - two.mean, 1.2706205, 1e-6);

  const SeedStats one = seed_stats({0.7});
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_TRUE(std::isnan(one.std));
  EXPECT_TRUE(std::isnan(one.ci_low));
  EXPECT_TRUE(std::isnan(seed_stats({}).mean));
  EXPECT_THROW(seed_stats({1.0, NAN}), UsageError);
  EXPECT_THROW(seed_stats({1.0, 2.0}, 1.0), UsageError);
}

}  // namespace
}  // namespace loid
