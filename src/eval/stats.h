// Statistics over seeds for `loid bench`: mean, sample standard deviation and Student's t
// interval of the mean (the quantile computed here, no statistics library needed).
#pragma once

#include <cstdint>
#include <vector>

namespace loid {

// Summary of one quantity measured once per seed.
struct SeedStats {
  std::int64_t n = 0;    // number of values
  double mean = 0.0;     // arithmetic mean (NaN when n = 0)
  double std = 0.0;      // sample standard deviation, n - 1 in the denominator (NaN when n < 2)
  double ci_low = 0.0;   // mean - t * std / sqrt(n), t the two-sided quantile of Student's t with
  double ci_high = 0.0;  // n - 1 degrees of freedom (both NaN when n < 2)
};

// Mean, sample standard deviation and the two-sided `confidence` t-interval of the mean of
// `values` (e.g. one test MSE per seed, or one paired difference per seed). Throws UsageError
// when confidence is not in (0, 1) or a value is not finite.
SeedStats seed_stats(const std::vector<double>& values, double confidence = 0.95);

// The p-quantile of Student's t distribution with `df` > 0 degrees of freedom, 0 < p < 1
// (t_{0.975}(4) = 2.776...). Computed from the regularised incomplete beta function by bisection
// to about 1e-10 relative accuracy; throws UsageError outside the domain.
double student_t_quantile(double p, double df);

}  // namespace loid
