// The parts of a LoID prediction and its attention weights (see loid_explain.h).
#include "rec/loid_explain.h"

#include "core/error.h"

namespace loid {

namespace {

std::vector<std::vector<float>> rows_of(const torch::Tensor& t) {  // (h, k) -> h vectors
  const auto c = t.to(torch::kFloat32).contiguous();
  std::vector<std::vector<float>> out;
  for (std::int64_t r = 0; r < c.size(0); ++r)
    out.emplace_back(c[r].data_ptr<float>(), c[r].data_ptr<float>() + c.size(1));
  return out;
}

std::vector<float> vector_of(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

float scalar(const torch::Tensor& t) {
  return t.to(torch::kFloat32).item<float>();
}

}  // namespace

LoidExplanation explain_loid(LoidModelImpl& model, const torch::Tensor& users,
                             const torch::Tensor& items, const torch::Tensor& user_text,
                             const torch::Tensor& user_mask, const torch::Tensor& item_text,
                             const torch::Tensor& item_mask) {
  if (users.numel() != 1 || items.numel() != 1)
    throw UsageError("explain: one (user, item) pair at a time");
  torch::NoGradGuard no_grad;
  const bool training = model.is_training();
  if (training) model.eval();
  const LoidModelOptions& o = model.options();
  const auto u = model.clamp_ids(users, o.num_users);
  const auto i = model.clamp_ids(items, o.num_items);
  const auto p_u = model.user_embedding(u), p_i = model.item_embedding(i);
  auto ut = user_text, it = item_text;
  if (model.text_projection) {
    ut = model.text_projection(ut);
    it = model.text_projection(it);
  }
  LoidExplanation out;
  const auto w_user = model.item_over_user->weights(p_i, ut, user_mask)[0];  // (h, k)
  const auto w_item = model.user_over_item->weights(p_u, it, item_mask)[0];
  out.user_reviews_by_head = rows_of(w_user);
  out.item_reviews_by_head = rows_of(w_item);
  out.user_reviews_total = vector_of(w_user.mean(0));
  out.item_reviews_total = vector_of(w_item.mean(0));
  const auto v_i = model.item_over_user(p_i, ut, user_mask);
  const auto v_u = model.user_over_item(p_u, it, item_mask);
  out.mean = scalar(model.mean);
  out.text = scalar(model.predictor->forward(torch::cat({v_u, v_i}, 1)).squeeze());
  out.has_biases = o.id_biases || o.predictor == LoidPredictor::kMfText;
  if (out.has_biases) {
    out.user_bias = scalar(model.user_bias(u).squeeze());
    out.item_bias = scalar(model.item_bias(i).squeeze());
  }
  out.has_factors = static_cast<bool>(model.user_factors);
  if (out.has_factors) {
    auto f_u = model.user_factors(u), f_i = model.item_factors(i);
    if (model.user_text_factors) {
      f_u = f_u + model.user_text_factors(model.text_factor_input(user_text, user_mask));
      f_i = f_i + model.item_text_factors(model.text_factor_input(item_text, item_mask));
    }
    out.factors = scalar((f_u * f_i).sum());
  }
  out.prediction = out.mean + out.user_bias + out.item_bias + out.factors + out.text;
  if (training) model.train(true);
  return out;
}

}  // namespace loid
