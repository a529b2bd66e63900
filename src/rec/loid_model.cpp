// The LoID recommender (see loid_model.h).
#include "rec/loid_model.h"

#include <cmath>

#include "core/error.h"

namespace loid {

IdTextAttentionImpl::IdTextAttentionImpl(std::int64_t width, std::int64_t h, double p)
    : heads(h) {
  if (h <= 0 || width % h != 0)
    throw UsageError("attention heads (" + std::to_string(h) + ") must divide the width (" +
                     std::to_string(width) + ")");
  q = register_module("q", torch::nn::Linear(width, width));
  k = register_module("k", torch::nn::Linear(width, width));
  v = register_module("v", torch::nn::Linear(width, width));
  o = register_module("o", torch::nn::Linear(width, width));
  dropout = register_module("dropout", torch::nn::Dropout(p));
}

torch::Tensor IdTextAttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& keys,
                                           const torch::Tensor& mask) {
  const std::int64_t b = keys.size(0), n = keys.size(1), e = keys.size(2), d = e / heads;
  const auto qh = q(query).view({b, heads, 1, d});                        // (B, h, 1, d)
  const auto kh = k(keys).view({b, n, heads, d}).permute({0, 2, 3, 1});  // (B, h, d, k)
  const auto vh = v(keys).view({b, n, heads, d}).transpose(1, 2);        // (B, h, k, d)
  const auto m = mask.view({b, 1, 1, n});
  auto scores = torch::matmul(qh, kh) / std::sqrt(static_cast<double>(d));  // (B, h, 1, k)
  scores = scores.masked_fill(m == 0, -1e9);
  // Multiplying by the mask zeroes the uniform weights of a row with no reviews at all.
  auto weights = dropout(torch::softmax(scores, -1) * m);
  auto context = torch::matmul(weights, vh).view({b, e});  // (B, h, 1, d) -> (B, E)
  return o(context);
}

LoidModelImpl::LoidModelImpl(const LoidModelOptions& opt) : options_(opt) {
  if (opt.num_users <= 0 || opt.num_items <= 0 || opt.text_width <= 0)
    throw UsageError("LoID model: users, items and text width must be positive");
  if (opt.embed_size == 0) options_.embed_size = opt.text_width;
  const std::int64_t e = options_.embed_size;
  user_embedding = register_module("user_embedding", torch::nn::Embedding(opt.num_users + 1, e));
  item_embedding = register_module("item_embedding", torch::nn::Embedding(opt.num_items + 1, e));
  {
    torch::NoGradGuard no_grad;
    // Small random IDs (attention queries) and zero unknown rows.
    user_embedding->weight.normal_(0.0, 0.1);
    item_embedding->weight.normal_(0.0, 0.1);
    user_embedding->weight[opt.num_users].zero_();
    item_embedding->weight[opt.num_items].zero_();
  }
  if (e != opt.text_width)
    text_projection = register_module("text_projection", torch::nn::Linear(opt.text_width, e));
  item_over_user = register_module("item_over_user", IdTextAttention(e, opt.heads, opt.dropout));
  user_over_item = register_module("user_over_item", IdTextAttention(e, opt.heads, opt.dropout));
  predictor = register_module(
      "predictor",
      torch::nn::Sequential(torch::nn::Linear(2 * e, opt.hidden), torch::nn::ReLU(),
                            torch::nn::Dropout(opt.dropout), torch::nn::Linear(opt.hidden, 1)));
  if (opt.id_biases) {
    user_bias = register_module("user_bias", torch::nn::Embedding(opt.num_users + 1, 1));
    item_bias = register_module("item_bias", torch::nn::Embedding(opt.num_items + 1, 1));
    torch::NoGradGuard no_grad;
    user_bias->weight.zero_();
    item_bias->weight.zero_();
  }
  mean = register_buffer("mean", torch::tensor(opt.mean_rating, torch::kFloat32));
}

torch::Tensor LoidModelImpl::clamp_ids(const torch::Tensor& ids, std::int64_t known) const {
  return torch::where((ids < 0) | (ids >= known), torch::full_like(ids, known), ids);
}

LoidOutput LoidModelImpl::forward(const torch::Tensor& users, const torch::Tensor& items,
                                  const torch::Tensor& user_text, const torch::Tensor& user_mask,
                                  const torch::Tensor& item_text, const torch::Tensor& item_mask) {
  const auto u = clamp_ids(users, options_.num_users);
  const auto i = clamp_ids(items, options_.num_items);
  LoidOutput out;
  out.p_u = user_embedding(u);
  out.p_i = item_embedding(i);
  auto ut = user_text, it = item_text;
  if (text_projection) {
    ut = text_projection(ut);
    it = text_projection(it);
  }
  out.v_i = item_over_user(out.p_i, ut, user_mask);
  out.v_u = user_over_item(out.p_u, it, item_mask);
  out.prediction = predictor->forward(torch::cat({out.v_u, out.v_i}, 1)).squeeze(-1) + mean;
  if (options_.id_biases)
    out.prediction = out.prediction + user_bias(u).squeeze(-1) + item_bias(i).squeeze(-1);
  return out;
}

torch::Tensor triplet_loss(const LoidOutput& out, double margin, std::int64_t shift) {
  const std::int64_t b = out.p_u.size(0);
  if (b < 2) return torch::zeros({}, out.p_u.options());
  const auto negative_u = torch::roll(out.p_u, shift, 0);
  const auto negative_i = torch::roll(out.p_i, shift, 0);
  const auto term = [margin](const torch::Tensor& a, const torch::Tensor& pos,
                             const torch::Tensor& neg) {
    const auto dp = (a - pos).pow(2).sum(1);
    const auto dn = (a - neg).pow(2).sum(1);
    return torch::relu(dp - dn + margin);
  };
  return (term(out.v_i, out.p_u, negative_u) + term(out.v_u, out.p_i, negative_i)).mean();
}

}  // namespace loid
