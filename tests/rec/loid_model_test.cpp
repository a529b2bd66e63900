// The LoID model: masked ID-text attention (masked keys have no effect, a row with no reviews gets
// the learned "no reviews" vector), the triplet loss against a hand computation, unknown ids, and
// which parameters the losses reach.
#include "rec/loid_model.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace loid {
namespace {

LoidModelOptions model_options(std::int64_t users, std::int64_t items, std::int64_t width,
                               std::int64_t heads, std::int64_t hidden) {
  LoidModelOptions o;
  o.num_users = users;
  o.num_items = items;
  o.text_width = width;
  o.heads = heads;
  o.hidden = hidden;
  o.dropout = 0.0;
  o.mean_rating = 4.0f;
  return o;
}

LoidModelOptions small() {
  return model_options(4, 3, 8, 2, 6);
}

TEST(LoidModel, MaskedKeysDoNotMatter) {
  torch::manual_seed(1);
  IdTextAttention att(8, 2, 0.0);
  const auto q = torch::randn({2, 8});
  auto keys = torch::randn({2, 3, 8});
  const auto mask = torch::tensor({{1.f, 1.f, 0.f}, {1.f, 0.f, 0.f}});
  const auto a = att->forward(q, keys, mask);
  keys.index_put_({0, 2}, torch::randn({8}) * 100);
  keys.index_put_({1, 1}, torch::randn({8}) * 100);
  const auto b = att->forward(q, keys, mask);
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6));
}

TEST(LoidModel, RowWithoutReviewsGetsTheOutputBias) {
  torch::manual_seed(2);
  IdTextAttention att(8, 4, 0.0);
  const auto out =
      att->forward(torch::randn({1, 8}), torch::randn({1, 5, 8}), torch::zeros({1, 5}));
  EXPECT_TRUE(torch::allclose(out[0], att->o->bias, 1e-7, 1e-7));
  EXPECT_FALSE(torch::isnan(out).any().item<bool>());
}

TEST(LoidModel, SingleKeyAttentionIsItsValueProjection) {
  torch::manual_seed(3);
  IdTextAttention att(8, 2, 0.0);
  const auto key = torch::randn({1, 1, 8});
  const auto out = att->forward(torch::randn({1, 8}), key, torch::ones({1, 1}));
  const auto expected = att->o(att->v(key[0]));
  EXPECT_TRUE(torch::allclose(out, expected, 1e-6, 1e-6));
}

TEST(LoidModel, TripletLossMatchesHandComputation) {
  LoidOutput o;
  // Rows: anchors v_i = (0,0), (1,1); positives p_u = (1,0), (1,2); negatives = p_u rolled by 1.
  o.v_i = torch::tensor({{0.f, 0.f}, {1.f, 1.f}});
  o.p_u = torch::tensor({{1.f, 0.f}, {1.f, 2.f}});
  o.v_u = torch::zeros({2, 2});
  o.p_i = torch::zeros({2, 2});
  // Row 0: d(a,p) = 1, negative = p_u[1] = (1,2): d = 5 -> max(0, 1 - 5 + 2) = 0.
  // Row 1: d(a,p) = 1, negative = p_u[0] = (1,0): d = 1 -> max(0, 1 - 1 + 2) = 2.
  // Second term: all zeros -> max(0, 0 - 0 + 2) = 2 for both rows. Mean of (0+2, 2+2) = 3.
  EXPECT_NEAR(triplet_loss(o, 2.0).item<double>(), 3.0, 1e-6);
  o.v_i = o.v_i.index({torch::indexing::Slice(0, 1)});
  o.p_u = o.p_u.index({torch::indexing::Slice(0, 1)});
  o.v_u = o.v_u.index({torch::indexing::Slice(0, 1)});
  o.p_i = o.p_i.index({torch::indexing::Slice(0, 1)});
  EXPECT_EQ(triplet_loss(o, 2.0).item<double>(), 0.0);
}

TEST(LoidModel, UnknownIdsUseTheZeroUnknownRow) {
  torch::manual_seed(4);
  LoidModel m(small());
  m->eval();
  const auto text = torch::randn({3, 2, 8});
  const auto mask = torch::ones({3, 2});
  const auto out = m->forward(torch::tensor({2, 4, -1}, torch::kInt64),
                              torch::tensor({0, 0, 0}, torch::kInt64), text, mask, text, mask);
  EXPECT_TRUE(torch::equal(out.p_u[1], torch::zeros({8})));
  EXPECT_TRUE(torch::equal(out.p_u[2], torch::zeros({8})));
  EXPECT_FALSE(torch::equal(out.p_u[0], torch::zeros({8})));
  EXPECT_EQ(out.prediction.sizes(), (std::vector<int64_t>{3}));
}

TEST(LoidModel, LossesReachEmbeddingsAttentionAndPredictor) {
  torch::manual_seed(5);
  auto o = small();
  o.embed_size = 4;  // with a text projection
  LoidModel m(o);
  const auto text = torch::randn({4, 3, 8});
  const auto mask = torch::ones({4, 3});
  const auto out = m->forward(torch::tensor({0, 1, 2, 3}, torch::kInt64),
                              torch::tensor({0, 1, 2, 0}, torch::kInt64), text, mask, text, mask);
  const auto loss =
      torch::mse_loss(out.prediction, torch::full({4}, 3.0f)) + 0.2 * triplet_loss(out, 1.0);
  loss.backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  EXPECT_THROW(IdTextAttention(6, 4, 0.0), std::exception);
}

// Every (user, item) pair of a random model through LoidPrecomputed and through forward in eval
// mode with the same contexts: empty contexts, gaps, a text projection, heads whose width is not a
// multiple of 8, and ID biases included.
void expect_precomputed_equals_forward(LoidModelOptions o) {
  LoidModel m(o);
  {
    torch::NoGradGuard no_grad;
    // Larger IDs than the training init, so that attention weights are far from uniform.
    m->user_embedding->weight.normal_(0.0, 1.0);
    m->item_embedding->weight.normal_(0.0, 1.0);
    if (m->user_bias) {
      m->user_bias->weight.normal_(0.0, 0.5);
      m->item_bias->weight.normal_(0.0, 0.5);
    }
    if (m->user_factors) {
      m->user_factors->weight.normal_(0.0, 0.5);
      m->item_factors->weight.normal_(0.0, 0.5);
    }
    if (m->user_text_factors) {
      m->user_text_factors->weight.normal_(0.0, 0.5);
      m->item_text_factors->weight.normal_(0.0, 0.5);
      m->text_mean.normal_(0.0, 0.5);
      m->text_basis.normal_(0.0, 0.3);
    }
  }
  const std::size_t k = 3;
  const auto vectors = torch::randn({20, o.text_width}) * 2;
  const std::vector<std::int64_t> user_ctx = {3, 7, 11, -1, -1, -1, 5, -1, 9, 0, -1, -1, 19, 18, 2};
  const std::vector<std::int64_t> item_ctx = {1, 2, 3, 4, -1, -1, -1, -1, -1, 10, 12, 14};
  ASSERT_EQ(user_ctx.size(), static_cast<std::size_t>(o.num_users) * k);
  ASSERT_EQ(item_ctx.size(), static_cast<std::size_t>(o.num_items) * k);
  const LoidPrecomputed p(*m, user_ctx, item_ctx, k, vectors);

  std::vector<std::int64_t> users, items;
  for (std::int64_t u = 0; u < o.num_users; ++u)
    for (std::int64_t i = 0; i < o.num_items; ++i) {
      users.push_back(u);
      items.push_back(i);
    }
  const auto b = static_cast<std::int64_t>(users.size()), kk = static_cast<std::int64_t>(k);
  auto side = [&](const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& ctx) {
    auto text = torch::zeros({b, kk, o.text_width});
    auto mask = torch::zeros({b, kk});
    for (std::int64_t r = 0; r < b; ++r)
      for (std::int64_t j = 0; j < kk; ++j) {
        const std::int64_t id = ctx[static_cast<std::size_t>(ids[r] * kk + j)];
        if (id < 0) continue;
        text[r][j] = vectors[id];
        mask[r][j] = 1.0f;
      }
    return std::make_pair(text, mask);
  };
  const auto [ut, um] = side(users, user_ctx);
  const auto [it, im] = side(items, item_ctx);
  m->eval();
  torch::NoGradGuard no_grad;
  const auto expected = m->forward(torch::tensor(users), torch::tensor(items), ut, um, it, im)
                            .prediction.contiguous();
  std::vector<float> got(users.size());
  p.predict(users.data(), items.data(), users.size(), got.data());
  float lo = got[0], hi = got[0];
  for (std::size_t r = 0; r < got.size(); ++r) {
    EXPECT_NEAR(got[r], expected[static_cast<std::int64_t>(r)].item<float>(), 1e-5)
        << "user " << users[r] << " item " << items[r];
    lo = std::min(lo, got[r]);
    hi = std::max(hi, got[r]);
  }
  EXPECT_GT(hi - lo, 0.05f);  // the pairs really differ, so equality says something
  EXPECT_FLOAT_EQ(p.predict(users[7], items[7]), got[7]);
  EXPECT_THROW(p.predict(o.num_users, 0), UsageError);
  EXPECT_THROW(p.predict(0, -1), UsageError);
  EXPECT_THROW(LoidPrecomputed(*m, user_ctx, {1, 2}, k, vectors), UsageError);
  EXPECT_GT(p.bytes(), 0u);
}

TEST(LoidModel, PrecomputedEqualsForward) {
  torch::manual_seed(6);
  LoidModelOptions o = model_options(5, 4, 16, 2, 10);
  o.dropout = 0.3;  // eval mode: no effect
  o.mean_rating = 3.5f;
  expect_precomputed_equals_forward(o);
}

TEST(LoidModel, PrecomputedEqualsForwardWithProjectionAndBiases) {
  torch::manual_seed(7);
  LoidModelOptions o = model_options(5, 4, 16, 3, 9);
  o.embed_size = 12;  // a text projection; heads of width 4
  o.id_biases = true;
  expect_precomputed_equals_forward(o);
}

TEST(LoidModel, PrecomputedEqualsForwardWithMfAndTextFactors) {
  torch::manual_seed(8);
  LoidModelOptions o = model_options(5, 4, 16, 2, 7);
  o.predictor = LoidPredictor::kMfText;
  o.mf_factors = 3;
  o.text_factors = 4;
  expect_precomputed_equals_forward(o);
}

TEST(LoidModel, TextFactorsStartAtZeroAndIgnoreEmptyContexts) {
  torch::manual_seed(9);
  LoidModelOptions o = small();
  o.predictor = LoidPredictor::kMfText;
  o.mf_factors = 2;
  o.text_factors = 3;
  LoidModel m(o);
  EXPECT_EQ(m->user_text_factors->weight.abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(m->item_text_factors->weight.abs().sum().item<float>(), 0.0f);
  {
    torch::NoGradGuard no_grad;
    m->text_mean.normal_();
    m->text_basis.normal_();
  }
  const auto text = torch::randn({2, 4, 8});
  const auto mask = torch::tensor({{1.f, 0.f, 1.f, 0.f}, {0.f, 0.f, 0.f, 0.f}});
  const auto z = m->text_factor_input(text, mask);  // (2, 3)
  const auto mean0 = (text[0][0] + text[0][2]) / 2;
  const auto want = torch::matmul(m->text_basis, mean0 - m->text_mean);
  EXPECT_TRUE(torch::allclose(z[0], want, 1e-5, 1e-5));
  EXPECT_EQ(z[1].abs().sum().item<float>(), 0.0f);  // no reviews: zero, not -basis . mean
  o.mf_factors = 0;
  EXPECT_THROW(LoidModel{o}, UsageError);
}

TEST(LoidModel, TextWhiteningDecorrelatesTheTopDirections) {
  torch::manual_seed(10);
  // 400 points of rank 3 in 6 dimensions, with very different variances per direction.
  const auto latent = torch::randn({400, 3}) * torch::tensor({5.0f, 2.0f, 0.5f});
  const auto mix = torch::randn({3, 6});
  const auto x = torch::matmul(latent, mix) + torch::tensor({1.f, -2.f, 3.f, 0.f, 0.f, 7.f});
  const auto [mean, basis] = text_whitening(x, 5);
  ASSERT_EQ(basis.sizes(), (std::vector<std::int64_t>{5, 6}));
  EXPECT_TRUE(torch::allclose(mean, x.mean(0), 1e-4, 1e-4));
  const auto z = torch::matmul(x - mean, basis.t()).to(torch::kFloat64);  // (400, 5)
  const auto cov = torch::matmul(z.t(), z) / 399.0;
  // The first three: unit variance, uncorrelated; beyond the rank: zero rows.
  const auto eye = torch::eye(3, torch::kFloat64);
  EXPECT_LT((cov.slice(0, 0, 3).slice(1, 0, 3) - eye).abs().max().item<double>(), 1e-3);
  EXPECT_EQ(basis.slice(0, 3, 5).abs().sum().item<float>(), 0.0f);
  // Ordered by variance: the first direction carries the most of the raw data's spread.
  const auto raw = [&](std::int64_t j) {
    const auto d = basis[j] / basis[j].norm();
    return torch::matmul(x - mean, d).var().item<double>();
  };
  EXPECT_GT(raw(0), raw(1));
  EXPECT_GT(raw(1), raw(2));
}

}  // namespace
}  // namespace loid
