// fast_dropout: the inverted-dropout distribution, masked gradients, reproducible under
// torch::manual_seed and the same for any number of threads; the host mask and the tensor-op mask
// (other devices) agree bit for bit and with an independent SplitMix64 (Python, see below).
#include "nn/dropout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

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

// Kept (1) or dropped (0) for the first 32 elements, from a SplitMix64 written in Python:
//   M = 2**64 - 1
//   def mix(z):
//       z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9 & M
//       z = (z ^ (z >> 27)) * 0x94d049bb133111eb & M
//       return z ^ (z >> 31)
//   kept(i) = mix((seed + i * 0x9e3779b97f4a7c15) & M) >> 40 < round((1 - p) * 2**24)
TEST(FastDropout, MasksMatchAnIndependentSplitMix64) {
  struct Case {
    std::uint64_t seed;
    double p;
    const char* kept;
  };
  for (const Case& c : {Case{12345, 0.3, "01111111110110001010111111111110"},
                        Case{(1ULL << 63) + 99, 0.5, "01100001110101101100010101001000"}}) {
    const float scale = static_cast<float>(1.0 / (1.0 - c.p));
    const auto host = dropout_mask_host(32, c.p, c.seed);
    const auto ops = dropout_mask_tensor(32, c.p, c.seed, torch::kCPU);
    for (int i = 0; i < 32; ++i) {
      const float expected = c.kept[i] == '1' ? scale : 0.0f;
      EXPECT_EQ(host[i].item<float>(), expected) << "host, seed " << c.seed << ", element " << i;
      EXPECT_EQ(ops[i].item<float>(), expected) << "ops, seed " << c.seed << ", element " << i;
    }
  }
}

// The tensor-op mask (what other devices run) equals the host mask over many elements (several
// host chunks), seeds whose sums wrap past 2^64, and probabilities at both ends.
TEST(FastDropout, TensorOpMaskEqualsHostMask) {
  const std::int64_t n = 3 * (1 << 16) + 17;
  for (const std::uint64_t seed : {0ULL, 1ULL, 0x7fffffffffffffffULL, 0xfffffffffffffff0ULL}) {
    for (const double p : {0.01, 0.1, 0.5, 0.93}) {
      const auto host = dropout_mask_host(n, p, seed);
      const auto ops = dropout_mask_tensor(n, p, seed, torch::kCPU);
      ASSERT_EQ(ops.scalar_type(), torch::kFloat32);
      EXPECT_TRUE(torch::equal(host, ops))
          << "seed " << seed << ", p " << p << ": " << host.ne(ops).sum().item<std::int64_t>()
          << " elements differ";
    }
  }
}

// Data parallelism: a rank holding rows [first, first + rows) of a global batch inside a
// BatchRowsScope gets exactly those rows of the global batch's masks, and consumes the same draws.
TEST(BatchRowsScope, RowDropoutSlicesAreTheGlobalBatchsTorchDropout) {
  const auto x = torch::rand({7, 3, 5});
  torch::manual_seed(11);
  const auto whole = torch::dropout(x, 0.3, true);
  const auto after_whole = torch::rand({1}).item<float>();
  std::vector<torch::Tensor> parts;
  float after_parts = 0;
  for (const auto& [lo, hi] : {std::pair<int, int>{0, 3}, {3, 7}}) {
    torch::manual_seed(11);
    const BatchRowsScope scope(7, lo, hi - lo);
    parts.push_back(row_dropout(x.narrow(0, lo, hi - lo), 0.3, true));
    after_parts = torch::rand({1}).item<float>();
    EXPECT_EQ(after_parts, after_whole) << "the generator advanced differently";
  }
  EXPECT_TRUE(torch::equal(torch::cat(parts, 0), whole));
  // Outside a scope it is torch::dropout itself; in eval mode the identity.
  torch::manual_seed(11);
  EXPECT_TRUE(torch::equal(row_dropout(x, 0.3, true), whole));
  EXPECT_TRUE(torch::equal(row_dropout(x, 0.3, false), x));
}

TEST(BatchRowsScope, FastDropoutSlicesOfRowsAndOfPackedTokens) {
  // Rows: (B, C) with B the global batch.
  const auto x = torch::rand({6, 40});
  torch::manual_seed(5);
  const auto whole = fast_dropout(x, 0.25);
  torch::manual_seed(5);
  torch::Tensor tail;
  {
    const BatchRowsScope scope(6, 4, 2);
    tail = fast_dropout(x.narrow(0, 4, 2), 0.25);
  }
  EXPECT_TRUE(torch::equal(tail, whole.narrow(0, 4, 2)));
  // Packed tokens: rows of lengths 3, 1, 4, 2 as 10 token rows; the rank holding rows 2-3 holds
  // token rows 4-9 (4 tokens before them).
  const auto tokens = torch::rand({10, 8});
  torch::manual_seed(6);
  const auto all_tokens = fast_dropout(tokens, 0.5);
  torch::manual_seed(6);
  torch::Tensor mine;
  {
    const BatchRowsScope scope(4, 2, 2, /*tokens_before=*/4, /*tokens=*/6);
    mine = fast_dropout(tokens.narrow(0, 4, 6), 0.5);
  }
  EXPECT_TRUE(torch::equal(mine, all_tokens.narrow(0, 4, 6)));
  // Padded per-token rows (B * T, C), T = 3: rows 2-3 are flat rows 6-11, whatever their real
  // lengths (no token counts given).
  const auto padded = torch::rand({12, 8});
  torch::manual_seed(7);
  const auto all_padded = fast_dropout(padded, 0.5);
  torch::manual_seed(7);
  torch::Tensor mine_padded;
  {
    const BatchRowsScope scope(4, 2, 2);
    mine_padded = fast_dropout(padded.narrow(0, 6, 6), 0.5);
  }
  EXPECT_TRUE(torch::equal(mine_padded, all_padded.narrow(0, 6, 6)));
  // A tensor that fits neither layout is a bug of the caller, not a silent wrong mask.
  const BatchRowsScope scope(4, 2, 2, 4, 6);
  EXPECT_THROW(fast_dropout(torch::rand({5, 8}), 0.5), std::logic_error);
}

}  // namespace
}  // namespace loid
