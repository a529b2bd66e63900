// fast_dropout: the inverted-dropout distribution, masked gradients, reproducible under
// torch::manual_seed and the same for any number of threads.
#include "nn/dropout.h"

#include <gtest/gtest.h>

#include <cmath>

namespace loid {
namespace {

TEST(FastDropout, KeepsOneMinusPScaled) {
  torch::manual_seed(1);
  const std::int64_t n = 1 << 20;
  for (const double p : {0.05, 0.1, 0.5}) {
    auto y = fast_dropout(torch::ones({n / 1024, 1024}), p);
    auto kept = y.ne(0);
    const double fraction = kept.to(torch::kFloat64).mean().item<double>();
    // Binomial: sd of the fraction is sqrt(p (1 - p) / n), below 5e-4 here; allow 6 sd.
    EXPECT_NEAR(fraction, 1.0 - p, 6.0 * std::sqrt(p * (1.0 - p) / n)) << "p " << p;
    EXPECT_NEAR(y.masked_select(kept).min().item<double>(), 1.0 / (1.0 - p), 1e-6);
    EXPECT_NEAR(y.masked_select(kept).max().item<double>(), 1.0 / (1.0 - p), 1e-6);
    // Neighbouring elements are independent: pairs both kept at the rate (1 - p)^2.
    auto pairs = (kept.view({-1, 2}).sum(1) == 2).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(pairs, (1.0 - p) * (1.0 - p), 0.01) << "p " << p;
  }
}

TEST(FastDropout, GradientIsMaskedTheSameWay) {
  torch::manual_seed(2);
  auto x = torch::randn({64, 33}, torch::requires_grad());
  auto y = fast_dropout(x, 0.3);
  auto g = torch::autograd::grad({(y * 2).sum()}, {x})[0];
  const auto kept = y.ne(0);
  EXPECT_TRUE(torch::allclose(g, kept.to(torch::kFloat32) * (2.0 / 0.7)));
  EXPECT_TRUE(torch::allclose(y, x.detach() * kept.to(torch::kFloat32) / 0.7));
}

TEST(FastDropout, ReproducibleAndThreadCountFree) {
  const auto x = torch::ones({300, 1000});
  const int threads = torch::get_num_threads();
  torch::set_num_threads(2);
  torch::manual_seed(7);
  auto a = fast_dropout(x, 0.1);
  auto b = fast_dropout(x, 0.1);
  EXPECT_FALSE(torch::equal(a, b));  // a new draw per call
  torch::set_num_threads(1);
  torch::manual_seed(7);
  auto c = fast_dropout(x, 0.1);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(a, c));
}

TEST(FastDropout, EdgeProbabilities) {
  auto x = torch::randn({5, 7});
  EXPECT_TRUE(fast_dropout(x, 0.0).is_same(x));
  EXPECT_EQ(fast_dropout(x, 1.0).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(fast_dropout(torch::ones({0, 3}), 0.5).numel(), 0);
}

}  // namespace
}  // namespace loid
