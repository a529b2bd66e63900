// Why LoID predicts a rating: the parts add up to forward()'s prediction, each head's attention
// weights sum to 1 over the context (0 on empty slots and for a row without reviews), and the
// weights are the ones the model uses (the attended vector rebuilt from them by hand equals
// forward()'s).
#include "rec/loid_explain.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace loid {
namespace {

LoidModelOptions options(LoidPredictor predictor) {
  LoidModelOptions o;
  o.num_users = 5;
  o.num_items = 4;
  o.text_width = 16;
  o.embed_size = 12;  // a text projection; 3 heads of width 4
  o.heads = 3;
  o.hidden = 9;
  o.dropout = 0.3;  // must not apply: explanations are eval-mode arithmetic
  o.mean_rating = 3.5f;
  o.predictor = predictor;
  if (predictor == LoidPredictor::kMfText) {
    o.mf_factors = 3;
    o.text_factors = 4;
  } else {
    o.id_biases = true;
  }
  return o;
}

void randomize(LoidModelImpl& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.normal_(0.0, 0.5);
  if (m.text_basis.defined()) {
    m.text_mean.normal_();
    m.text_basis.normal_();
  }
}

// Attention output rebuilt from the weights: o(concat over heads of sum_j w[h][j] v(keys_j)_h).
torch::Tensor attended(IdTextAttentionImpl& a, const torch::Tensor& keys,
                       const std::vector<std::vector<float>>& w) {
  const auto v = a.v(keys[0]);  // (k, E)
  const std::int64_t heads = a.heads, d = v.size(1) / heads;
  std::vector<torch::Tensor> parts;
  for (std::int64_t h = 0; h < heads; ++h) {
    auto acc = torch::zeros({d});
    for (std::int64_t j = 0; j < v.size(0); ++j)
      acc = acc + w[h][j] * v[j].slice(0, h * d, (h + 1) * d);
    parts.push_back(acc);
  }
  return a.o(torch::cat(parts).unsqueeze(0))[0];
}

void check(LoidPredictor predictor) {
  LoidModel m(options(predictor));
  randomize(*m);
  m->train();  // explain must not apply dropout, and must leave the mode as it was
  const auto users = torch::tensor({2}, torch::kInt64), items = torch::tensor({1}, torch::kInt64);
  const auto user_text = torch::randn({1, 4, 16}), item_text = torch::randn({1, 4, 16});
  const auto user_mask = torch::tensor({{1.f, 0.f, 1.f, 1.f}});
  const auto item_mask = torch::tensor({{1.f, 1.f, 0.f, 0.f}});
  const LoidExplanation x =
      explain_loid(*m, users, items, user_text, user_mask, item_text, item_mask);
  EXPECT_TRUE(m->is_training());
  m->eval();
  torch::NoGradGuard no_grad;
  const LoidOutput out = m->forward(users, items, user_text, user_mask, item_text, item_mask);
  EXPECT_NEAR(x.prediction, out.prediction.item<float>(), 1e-5);
  EXPECT_NEAR(x.prediction, x.mean + x.user_bias + x.item_bias + x.factors + x.text, 1e-5);
  EXPECT_FLOAT_EQ(x.mean, 3.5f);
  EXPECT_TRUE(x.has_biases);
  EXPECT_EQ(x.has_factors, predictor == LoidPredictor::kMfText);
  EXPECT_NE(x.user_bias, 0.0f);
  if (x.has_factors) EXPECT_NE(x.factors, 0.0f);
  ASSERT_EQ(x.user_reviews_by_head.size(), 3u);
  ASSERT_EQ(x.item_reviews_by_head.size(), 3u);
  for (std::size_t h = 0; h < 3; ++h) {
    const auto& u = x.user_reviews_by_head[h];
    const auto& i = x.item_reviews_by_head[h];
    ASSERT_EQ(u.size(), 4u);
    EXPECT_EQ(u[1], 0.0f);  // empty slot
    EXPECT_EQ(i[2], 0.0f);
    EXPECT_EQ(i[3], 0.0f);
    EXPECT_NEAR(u[0] + u[2] + u[3], 1.0f, 1e-5);
    EXPECT_NEAR(i[0] + i[1], 1.0f, 1e-5);
  }
  for (std::size_t j = 0; j < 4; ++j)
    EXPECT_NEAR(x.user_reviews_total[j],
                (x.user_reviews_by_head[0][j] + x.user_reviews_by_head[1][j] +
                 x.user_reviews_by_head[2][j]) /
                    3,
                1e-6);
  // The weights are what forward() attends with: v_i and v_u rebuilt from them.
  const auto ut = m->text_projection(user_text), it = m->text_projection(item_text);
  EXPECT_TRUE(torch::allclose(attended(*m->item_over_user, ut, x.user_reviews_by_head), out.v_i[0],
                              1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(attended(*m->user_over_item, it, x.item_reviews_by_head), out.v_u[0],
                              1e-5, 1e-5));
}

TEST(LoidExplain, PaperPredictorWithBiases) {
  torch::manual_seed(21);
  check(LoidPredictor::kMlp);
}

TEST(LoidExplain, MfTextPredictorWithTextFactors) {
  torch::manual_seed(22);
  check(LoidPredictor::kMfText);
}

TEST(LoidExplain, NoReviewsGiveZeroWeightsAndOnePairAtATime) {
  torch::manual_seed(23);
  LoidModel m(options(LoidPredictor::kMlp));
  m->eval();
  const auto text = torch::randn({1, 3, 16}), none = torch::zeros({1, 3});
  const auto x = explain_loid(*m, torch::tensor({9}, torch::kInt64),  // unknown user
                              torch::tensor({0}, torch::kInt64), text, none, text, none);
  for (const auto& head : x.user_reviews_by_head)
    for (float w : head) EXPECT_EQ(w, 0.0f);
  torch::NoGradGuard no_grad;
  const auto out = m->forward(torch::tensor({9}, torch::kInt64), torch::tensor({0}, torch::kInt64),
                              text, none, text, none);
  EXPECT_NEAR(x.prediction, out.prediction.item<float>(), 1e-5);
  const auto two = torch::tensor({0, 1}, torch::kInt64);
  EXPECT_THROW(explain_loid(*m, two, two, torch::randn({2, 3, 16}), torch::ones({2, 3}),
                            torch::randn({2, 3, 16}), torch::ones({2, 3})),
               UsageError);
}

}  // namespace
}  // namespace loid
