// TokenRows: attention by length groups gives what attention over the whole padded batch gives,
// values and gradients, and the grouping is the cheapest split of the lengths; attention on the
// packed rows (inference) gives the same as attention over padded blocks.
#include "nn/token_rows.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <thread>

#include "core/blas.h"
#include "nn/bert.h"
#include "nn/use_lite.h"

namespace loid {
namespace {

double split_cost(const std::vector<std::int64_t>& lengths,
                  const std::vector<std::pair<std::size_t, std::size_t>>& runs, double group_cost) {
  double cost = 0.0;
  for (const auto& [start, end] : runs) {
    const double longest = static_cast<double>(lengths[start]);
    cost += static_cast<double>(end - start) * longest * longest + group_cost;
  }
  return cost;
}

TEST(PartitionByLength, SimpleCases) {
  EXPECT_TRUE(partition_by_length({}, 4096.0).empty());
  using Runs = std::vector<std::pair<std::size_t, std::size_t>>;
  EXPECT_EQ(partition_by_length({9, 9, 9}, 1.0), (Runs{{0, 3}}));
  // One long text among short ones: 128^2 + 3 x 10^2 + 2 x 4096 < 4 x 128^2 + 4096.
  EXPECT_EQ(partition_by_length({128, 10, 10, 10}, 4096.0), (Runs{{0, 1}, {1, 4}}));
  EXPECT_EQ(partition_by_length({128, 10, 10, 10}, 1e9), (Runs{{0, 4}}));
  EXPECT_EQ(partition_by_length({5, 4, 3}, 0.0), (Runs{{0, 1}, {1, 2}, {2, 3}}));
}

TEST(PartitionByLength, CheapestOfAllSplits) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t n = 1 + rng() % 9;
    std::vector<std::int64_t> lengths(n);
    for (auto& l : lengths) l = 1 + static_cast<std::int64_t>(rng() % 128);
    std::sort(lengths.rbegin(), lengths.rend());
    const double group_cost = static_cast<double>(rng() % 8192);
    const auto runs = partition_by_length(lengths, group_cost);
    ASSERT_FALSE(runs.empty());
    EXPECT_EQ(runs.front().first, 0u);
    EXPECT_EQ(runs.back().second, n);
    for (std::size_t i = 1; i < runs.size(); ++i) EXPECT_EQ(runs[i].first, runs[i - 1].second);
    // Every split point set, as a bit mask over the n - 1 gaps.
    double best = std::numeric_limits<double>::infinity();
    for (std::uint32_t cuts = 0; cuts < (1u << (n - 1)); ++cuts) {
      std::vector<std::pair<std::size_t, std::size_t>> split;
      std::size_t start = 0;
      for (std::size_t gap = 0; gap + 1 < n; ++gap) {
        if (cuts & (1u << gap)) {
          split.emplace_back(start, gap + 1);
          start = gap + 1;
        }
      }
      split.emplace_back(start, n);
      best = std::min(best, split_cost(lengths, split, group_cost));
    }
    EXPECT_DOUBLE_EQ(split_cost(lengths, runs, group_cost), best) << "trial " << trial;
  }
}

// Sets the packed-attention switch for a scope.
struct PackedAttention {
  bool before = packed_attention_enabled();
  explicit PackedAttention(bool on) { set_packed_attention_enabled(on); }
  ~PackedAttention() { set_packed_attention_enabled(before); }
};

torch::Tensor prefix_mask(const std::vector<std::int64_t>& lengths, std::int64_t T) {
  auto mask = torch::zeros({static_cast<std::int64_t>(lengths.size()), T}, torch::kInt64);
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    mask[static_cast<std::int64_t>(b)].narrow(0, 0, lengths[b]).fill_(1);
  }
  return mask;
}

// Two-head attention over a (b, t, 3 x 8) block: q, k, v side by side.
torch::Tensor two_head_attention(const std::vector<torch::Tensor>& in, const torch::Tensor& bias) {
  const auto b = in[0].size(0), t = in[0].size(1);
  auto parts = in[0].split(8, -1);
  auto heads = [&](const torch::Tensor& y) { return y.view({b, t, 2, 4}).transpose(1, 2); };
  auto w = torch::softmax(
      torch::matmul(heads(parts[0]), heads(parts[1]).transpose(-2, -1)) * 0.5 + bias, -1);
  // A second input: added to the output so that attend's several inputs are exercised.
  return torch::matmul(w, heads(parts[2])).transpose(1, 2).reshape({b, t, 8}) + in[1] * 0.25;
}

TEST(TokenRows, GroupedAttentionEqualsWholeBatchAttention) {
  torch::manual_seed(3);
  const std::vector<std::int64_t> lengths{2, 9, 0, 5, 1, 8, 9, 3};
  const auto rows = TokenRows::of(prefix_mask(lengths, 9), -1e9f, /*group_cost=*/0.0);
  ASSERT_GE(rows.groups.size(), 3u);
  const std::int64_t N = 37;
  ASSERT_EQ(rows.index.size(0), N);
  auto x = torch::randn({N, 24}, torch::requires_grad());
  auto extra = torch::randn({N, 8}, torch::requires_grad());
  auto grouped = rows.attend({x, extra}, two_head_attention);
  auto whole = rows.pack(two_head_attention({rows.pad(x), rows.pad(extra)}, rows.key_bias()));
  ASSERT_EQ(grouped.sizes(), whole.sizes());
  EXPECT_LE((grouped - whole).abs().max().item<double>(), 1e-6);

  const auto weights = torch::randn({N, 8});
  auto gx1 = torch::autograd::grad({(grouped * weights).sum()}, {x, extra});
  auto gx2 = torch::autograd::grad({(whole * weights).sum()}, {x, extra});
  EXPECT_LE((gx1[0] - gx2[0]).abs().max().item<double>(), 1e-6);
  EXPECT_LE((gx1[1] - gx2[1]).abs().max().item<double>(), 1e-6);
  EXPECT_GT(gx1[0].abs().sum().item<double>(), 0.0);
}

TEST(TokenRows, WholeBatchWhenGroupingCannotHelpOrTheMaskHasHoles) {
  // No padding at all: nothing packed, nothing grouped.
  auto full = TokenRows::of(torch::ones({3, 4}, torch::kInt64));
  EXPECT_FALSE(full.index.defined());
  EXPECT_TRUE(full.groups.empty());
  // Similar lengths: one block, the whole batch.
  EXPECT_TRUE(TokenRows::of(prefix_mask({6, 5, 6, 4}, 6)).groups.empty());
  // A real token after padding: not the tokenizers' layout, so no groups (packing still works).
  auto holes = torch::tensor({1, 0, 1, 1, 1, 1}, torch::kInt64).view({2, 3});
  auto rows = TokenRows::of(holes, -1e9f, 0.0);
  EXPECT_TRUE(rows.groups.empty());
  EXPECT_EQ(rows.index.size(0), 5);
  // Very different lengths, default cost: grouped.
  EXPECT_FALSE(TokenRows::of(prefix_mask({128, 10, 12, 9, 11}, 128)).groups.empty());
}

// Multi-head attention over padded blocks, q, k, v side by side in (b, t, 3W): the reference the
// packed path must match.
torch::Tensor padded_attention(const torch::Tensor& in, const torch::Tensor& bias,
                               std::int64_t heads, double scale) {
  const auto b = in.size(0), t = in.size(1), w = in.size(2) / 3;
  auto parts = in.split(w, -1);
  auto split = [&](const torch::Tensor& y) {
    return y.view({b, t, heads, w / heads}).transpose(1, 2);
  };
  auto p = torch::softmax(
      torch::matmul(split(parts[0]), split(parts[1]).transpose(-2, -1)) * scale + bias, -1);
  return torch::matmul(p, split(parts[2])).transpose(1, 2).reshape({b, t, w});
}

TEST(TokenRows, PackedAttentionEqualsPaddedAttention) {
  torch::manual_seed(11);
  torch::NoGradGuard no_grad;
  // Empty sequences, one token, long ones (OpenBLAS's threaded sizes), unsorted; then no padding.
  for (const auto& lengths :
       std::vector<std::vector<std::int64_t>>{{2, 130, 0, 5, 1, 70, 9, 3, 0}, {7, 7, 7}}) {
    const std::int64_t T = *std::max_element(lengths.begin(), lengths.end());
    const auto rows = TokenRows::of(prefix_mask(lengths, T));
    ASSERT_EQ(rows.lengths, lengths);
    const std::int64_t N = std::accumulate(lengths.begin(), lengths.end(), std::int64_t{0});
    for (const std::int64_t heads : {1, 4}) {
      auto qkv = torch::randn({N, 3 * 32});
      ASSERT_TRUE(rows.can_attend_packed(qkv));
      const double scale = 0.3;
      auto packed = rows.attend_packed(qkv, heads, scale);
      auto reference =
          rows.attend({qkv}, [&](const std::vector<torch::Tensor>& in, const torch::Tensor& bias) {
            return padded_attention(in[0], bias, heads, scale);
          });
      ASSERT_EQ(packed.sizes(), reference.sizes());
      EXPECT_LE((packed - reference).abs().max().item<double>(), 1e-5) << heads << " heads";
    }
  }
}

// Overlapping calls (several requests in `loid serve`) give the same results, and OpenBLAS's
// thread count is back where it was once they are done.
TEST(TokenRows, PackedAttentionGradientsEqualPaddedAttention) {
  torch::manual_seed(13);
  const std::vector<std::int64_t> lengths{2, 80, 0, 5, 1, 70, 9};
  const auto rows = TokenRows::of(prefix_mask(lengths, 80));
  const std::int64_t N = 167, heads = 4;
  const double scale = 0.3;
  auto qkv = torch::randn({N, 3 * 32}, torch::requires_grad());
  auto packed = rows.attend_packed(qkv, heads, scale);
  auto reference =
      rows.attend({qkv}, [&](const std::vector<torch::Tensor>& in, const torch::Tensor& bias) {
        return padded_attention(in[0], bias, heads, scale);
      });
  EXPECT_LE((packed - reference).abs().max().item<double>(), 1e-5);
  const auto weights = torch::randn({N, 32});
  auto g1 = torch::autograd::grad({(packed * weights).sum()}, {qkv}, {}, /*retain_graph=*/true)[0];
  auto g2 = torch::autograd::grad({(reference * weights).sum()}, {qkv}, {}, true)[0];
  EXPECT_LE((g1 - g2).abs().max().item<double>(), 1e-5);
  EXPECT_GT(g1.narrow(1, 0, 32).abs().sum().item<double>(), 0.0);   // q
  EXPECT_GT(g1.narrow(1, 32, 32).abs().sum().item<double>(), 0.0);  // k
  EXPECT_GT(g1.narrow(1, 64, 32).abs().sum().item<double>(), 0.0);  // v
  // Only part of the output used: the rest contributes nothing.
  auto h1 = torch::autograd::grad({packed.narrow(0, 0, 40).sum()}, {qkv})[0];
  auto h2 = torch::autograd::grad({reference.narrow(0, 0, 40).sum()}, {qkv})[0];
  EXPECT_LE((h1 - h2).abs().max().item<double>(), 1e-5);
}

TEST(TokenRows, PackedAttentionFromSeveralThreads) {
  torch::manual_seed(12);
  const std::vector<std::int64_t> lengths{70, 3, 40, 1, 66};
  const auto rows = TokenRows::of(prefix_mask(lengths, 70));
  auto qkv = torch::randn({180, 3 * 16});
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = rows.attend_packed(qkv, 2, 0.25);
  }
  const int blas_threads = blas_thread_count();
  std::vector<double> worst(3, 0.0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < worst.size(); ++t) {
    threads.emplace_back([&, t] {
      torch::NoGradGuard no_grad;
      for (int i = 0; i < 20; ++i) {
        worst[t] = std::max(
            worst[t], (rows.attend_packed(qkv, 2, 0.25) - expected).abs().max().item<double>());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (double w : worst) EXPECT_EQ(w, 0.0);
  EXPECT_EQ(blas_thread_count(), blas_threads);
}

TEST(TokenRows, PackedAttentionOnlyWhereItApplies) {
  const auto rows = TokenRows::of(prefix_mask({3, 1}, 3));
  EXPECT_TRUE(rows.can_attend_packed(torch::randn({4, 6})));
  EXPECT_TRUE(rows.can_attend_packed(torch::randn({4, 6}, torch::requires_grad())));
  EXPECT_FALSE(rows.can_attend_packed(torch::randn({4, 6}, torch::kFloat64)));
  EXPECT_FALSE(rows.can_attend_packed(torch::randn({4, 7})));      // not q, k, v
  EXPECT_FALSE(rows.can_attend_packed(torch::randn({6, 4}).t()));  // not contiguous
  auto holes = torch::tensor({1, 0, 1, 1, 1, 1}, torch::kInt64).view({2, 3});
  EXPECT_FALSE(TokenRows::of(holes).can_attend_packed(torch::randn({5, 6})));  // rows not per text
  {
    PackedAttention off(false);
    EXPECT_FALSE(TokenRows::of(prefix_mask({3, 1}, 3)).can_attend_packed(torch::randn({4, 6})));
  }
  EXPECT_TRUE(TokenRows::of(prefix_mask({3, 1}, 3)).can_attend_packed(torch::randn({4, 6})));
}

TEST(TokenRows, UseLiteBatchEqualsEachTextAlone) {
  torch::manual_seed(5);
  UseLiteOptions o;
  o.vocab_size = 50;
  o.embedding_size = 8;
  o.hidden_size = 16;
  o.num_heads = 2;
  o.intermediate_size = 32;
  UseLite model(o);
  model->eval();
  torch::NoGradGuard no_grad;
  const std::vector<std::int64_t> lengths{40, 3, 0, 38, 5, 4};
  const std::int64_t T = 40;
  auto ids = torch::randint(1, o.vocab_size, {static_cast<std::int64_t>(lengths.size()), T});
  auto mask = prefix_mask(lengths, T);
  ASSERT_FALSE(TokenRows::of(mask).groups.empty());  // without packed attention: grouped
  torch::Tensor packed_batch;
  for (const bool packed : {true, false}) {
    PackedAttention mode(packed);
    auto batch = model->forward(ids * mask, mask);
    if (packed) packed_batch = batch.sentence;
    EXPECT_LE((packed_batch - batch.sentence).abs().max().item<double>(), 1e-5);
    for (std::size_t b = 0; b < lengths.size(); ++b) {
      const auto n = std::max<std::int64_t>(lengths[b], 1);
      auto one =
          model->forward((ids * mask)[static_cast<std::int64_t>(b)].narrow(0, 0, n).unsqueeze(0),
                         mask[static_cast<std::int64_t>(b)].narrow(0, 0, n).unsqueeze(0));
      EXPECT_LE((one.sentence[0] - batch.sentence[static_cast<std::int64_t>(b)])
                    .abs()
                    .max()
                    .item<double>(),
                1e-5)
          << "text " << b << (packed ? ", packed attention" : ", padded blocks");
    }
  }
}

// BERT's two attention inputs: one fused (N, 3H) product in frozen inference, three (N, H) ones
// when gradients are on.
TEST(TokenRows, BertBatchEqualsEachTextAloneFusedAndNot) {
  torch::manual_seed(6);
  BertConfig c;
  c.vocab_size = 120;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 128;
  BertModel model(c);
  model->eval();
  const std::vector<std::int64_t> lengths{100, 3, 6, 90, 2};
  const std::int64_t T = 100;
  auto mask = prefix_mask(lengths, T);
  auto ids = torch::randint(1, c.vocab_size, {static_cast<std::int64_t>(lengths.size()), T}) * mask;
  ASSERT_FALSE(TokenRows::of(mask).groups.empty());
  // Frozen and with gradients on, each with packed attention and with padded blocks.
  for (const auto& [grad, packed] :
       {std::pair{false, true}, {false, false}, {true, true}, {true, false}}) {
    torch::AutoGradMode mode(grad);
    PackedAttention packing(packed);
    auto batch = model->forward(ids, mask);
    for (std::size_t b = 0; b < lengths.size(); ++b) {
      const auto i = static_cast<std::int64_t>(b), n = lengths[b];
      auto one =
          model->forward(ids[i].narrow(0, 0, n).unsqueeze(0), mask[i].narrow(0, 0, n).unsqueeze(0));
      EXPECT_LE((one[0] - batch[i].narrow(0, 0, n)).abs().max().item<double>(), 1e-5)
          << "text " << b << (grad ? ", gradients on" : ", frozen") << (packed ? ", packed" : "");
      if (n < T) EXPECT_EQ(batch[i].narrow(0, n, T - n).abs().max().item<double>(), 0.0);
    }
  }
}

}  // namespace
}  // namespace loid
