// Seed statistics and Student's t quantiles (see stats.h).
#include "eval/stats.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace loid {

namespace {

// ---- Student's t -------------------------------------------------------------------------------

// Continued fraction of the incomplete beta function (modified Lentz), valid and fast for
// x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  const double tiny = 1e-300;
  auto guard = [&](double v) { return std::fabs(v) < tiny ? tiny : v; };
  double c = 1.0;
  double d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    // Even step.
    double num = m * (b - m) * x / ((a - 1.0 + m2) * (a + m2));
    d = 1.0 / guard(1.0 + num * d);
    c = guard(1.0 + num / c);
    h *= d * c;
    // Odd step.
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2));
    d = 1.0 / guard(1.0 + num * d);
    c = guard(1.0 + num / c);
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-16) break;
  }
  return h;
}

// Regularised incomplete beta function I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0))
    return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  return 1.0 - std::exp(log_front) * beta_continued_fraction(b, a, 1.0 - x) / b;
}

// P(T <= t) for t >= 0 under Student's t with df degrees of freedom.
double student_t_cdf_upper_half(double t, double df) {
  return 1.0 - 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
}

}  // namespace

double student_t_quantile(double p, double df) {
  if (!(p > 0.0 && p < 1.0)) throw UsageError("student_t_quantile: p must be in (0, 1)");
  if (!(df > 0.0) || !std::isfinite(df))
    throw UsageError("student_t_quantile: degrees of freedom must be positive");
  if (p == 0.5) return 0.0;
  if (p < 0.5) return -student_t_quantile(1.0 - p, df);
  double lo = 0.0, hi = 1.0;
  while (student_t_cdf_upper_half(hi, df) < p) {
    lo = hi;
    hi *= 2.0;
    if (hi > 1e300) return hi;
  }
  for (int i = 0; i < 400 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf_upper_half(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

SeedStats seed_stats(const std::vector<double>& values, double confidence) {
  if (!(confidence > 0.0 && confidence < 1.0))
    throw UsageError("seed_stats: confidence must be in (0, 1)");
  for (double v : values)
    if (!std::isfinite(v)) throw UsageError("seed_stats: non-finite value");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SeedStats s;
  s.n = static_cast<std::int64_t>(values.size());
  s.mean = s.std = s.ci_low = s.ci_high = nan;
  if (s.n == 0) return s;
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n < 2) return s;
  double ss = 0.0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(ss / (s.n - 1));
  const double t = student_t_quantile(0.5 + confidence / 2.0, static_cast<double>(s.n - 1));
  const double half = t * s.std / std::sqrt(static_cast<double>(s.n));
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  return s;
}

}  // namespace loid
