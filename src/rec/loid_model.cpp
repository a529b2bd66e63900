// The LoID recommender (see loid_model.h).
#include "rec/loid_model.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "nn/tensor_util.h"

namespace loid {

std::string to_string(LoidPredictor predictor) {
  return predictor == LoidPredictor::kMfText ? "mf+text" : "mlp";
}

LoidPredictor parse_loid_predictor(const std::string& name) {
  if (name == "mlp") return LoidPredictor::kMlp;
  if (name == "mf+text") return LoidPredictor::kMfText;
  throw UsageError("unknown LoID predictor '" + name + "' (mlp or mf+text)");
}

IdTextAttentionImpl::IdTextAttentionImpl(std::int64_t width, std::int64_t h, double p) : heads(h) {
  if (h <= 0 || width % h != 0)
    throw UsageError("attention heads (" + std::to_string(h) + ") must divide the width (" +
                     std::to_string(width) + ")");
  q = register_module("q", torch::nn::Linear(width, width));
  k = register_module("k", torch::nn::Linear(width, width));
  v = register_module("v", torch::nn::Linear(width, width));
  o = register_module("o", torch::nn::Linear(width, width));
  dropout = register_module("dropout", RowDropout(p));
}

namespace {

// Softmax attention weights (B, h, 1, k) of queries over keys, zero on masked slots. The keys are
// never projected: head h's score of review c is q_h . (W_k,h c + b_k,h) = (W_k,h^T q_h) . c +
// q_h . b_k,h, so each query row is mapped into the review space once instead of projecting its k
// reviews (k times fewer multiply-adds). The bias term is the same for every review of a row, so
// softmax ignores it; it is kept so that the key bias sees the same (zero up to rounding) gradient
// and weight decay as in the textbook form.
torch::Tensor attention_weights(IdTextAttentionImpl& a, const torch::Tensor& query,
                                const torch::Tensor& keys, const torch::Tensor& mask) {
  const std::int64_t b = keys.size(0), n = keys.size(1), e = keys.size(2), d = e / a.heads;
  const auto qh = a.q(query).view({b, a.heads, d});  // (B, h, d)
  const auto qk = torch::einsum("bhd,hde->bhe", {qh, a.k->weight.view({a.heads, d, e})});
  const auto qb = (qh * a.k->bias.view({1, a.heads, d})).sum(-1, true);  // (B, h, 1)
  auto scores = (torch::matmul(qk, keys.transpose(1, 2)) + qb) / std::sqrt(static_cast<double>(d));
  const auto m = mask.view({b, 1, n});
  scores = scores.masked_fill(m == 0, -1e9);  // (B, h, k)
  // Multiplying by the mask zeroes the uniform weights of a row with no reviews at all.
  return (torch::softmax(scores, -1) * m).unsqueeze(2);
}

}  // namespace

// The values likewise: sum_j w_j (W_v,h c_j + b_v,h) = W_v,h (sum_j w_j c_j) + (sum_j w_j) b_v,h,
// so each head projects one weighted sum of reviews instead of its k reviews.
torch::Tensor IdTextAttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& keys,
                                           const torch::Tensor& mask) {
  const std::int64_t b = keys.size(0), e = keys.size(2), d = e / heads;
  const auto w = dropout(attention_weights(*this, query, keys, mask)).squeeze(2);  // (B, h, k)
  const auto mixed = torch::matmul(w, keys);                                       // (B, h, E)
  const auto context = torch::einsum("bhe,hde->bhd", {mixed, v->weight.view({heads, d, e})}) +
                       w.sum(-1, true) * v->bias.view({1, heads, d});  // (B, h, d)
  return o(context.reshape({b, e}));
}

torch::Tensor IdTextAttentionImpl::weights(const torch::Tensor& query, const torch::Tensor& keys,
                                           const torch::Tensor& mask) {
  return attention_weights(*this, query, keys, mask).squeeze(2);  // (B, h, k)
}

LoidModelImpl::LoidModelImpl(const LoidModelOptions& opt) : options_(opt) {
  if (opt.num_users <= 0 || opt.num_items <= 0 || opt.text_width <= 0)
    throw UsageError("LoID model: users, items and text width must be positive");
  if (opt.embed_size == 0) options_.embed_size = opt.text_width;
  if (opt.mf_factors < 0) throw UsageError("LoID model: mf_factors must be >= 0");
  const bool mf = opt.predictor == LoidPredictor::kMfText;
  if (mf) options_.id_biases = true;
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
  // The output layer draws its initial weights first: the order in which earlier versions (one
  // Sequential built from temporaries, evaluated right to left) drew them, so seeds give the same
  // models as before.
  predictor_out = torch::nn::Linear(opt.hidden, 1);
  predictor_hidden = torch::nn::Linear(2 * e, opt.hidden);
  predictor =
      register_module("predictor", torch::nn::Sequential(predictor_hidden, torch::nn::ReLU(),
                                                         RowDropout(opt.dropout), predictor_out));
  if (options_.id_biases) {
    user_bias = register_module("user_bias", torch::nn::Embedding(opt.num_users + 1, 1));
    item_bias = register_module("item_bias", torch::nn::Embedding(opt.num_items + 1, 1));
    torch::NoGradGuard no_grad;
    user_bias->weight.zero_();
    item_bias->weight.zero_();
  }
  if (mf) {
    user_factors =
        register_module("user_factors", torch::nn::Embedding(opt.num_users + 1, opt.mf_factors));
    item_factors =
        register_module("item_factors", torch::nn::Embedding(opt.num_items + 1, opt.mf_factors));
    torch::NoGradGuard no_grad;
    user_factors->weight.zero_();
    item_factors->weight.zero_();
  }
  if (opt.text_factors < 0) throw UsageError("LoID model: text_factors must be >= 0");
  if (mf && opt.text_factors > 0) {
    if (opt.mf_factors == 0) throw UsageError("LoID model: text factors need mf_factors > 0");
    const auto map = torch::nn::LinearOptions(opt.text_factors, opt.mf_factors).bias(false);
    user_text_factors = register_module("user_text_factors", torch::nn::Linear(map));
    item_text_factors = register_module("item_text_factors", torch::nn::Linear(map));
    torch::NoGradGuard no_grad;
    user_text_factors->weight.zero_();
    item_text_factors->weight.zero_();
    text_mean = register_buffer("text_mean", torch::zeros({opt.text_width}));
    text_basis = register_buffer("text_basis", torch::zeros({opt.text_factors, opt.text_width}));
  }
  mean = register_buffer("mean", torch::tensor(opt.mean_rating, torch::kFloat32));
}

torch::Tensor LoidModelImpl::text_factor_input(const torch::Tensor& text,
                                               const torch::Tensor& mask) const {
  const auto n = mask.sum(1, true);                                      // (B, 1)
  const auto x = (text * mask.unsqueeze(-1)).sum(1) / n.clamp_min(1.0);  // (B, D)
  const auto z = torch::matmul(x - text_mean, text_basis.t());           // (B, P)
  return z * (n > 0).to(z.scalar_type());  // rows without reviews: zero, not -basis . mean
}

torch::Tensor LoidModelImpl::penalty(const torch::Tensor& users, const torch::Tensor& items) {
  if (!user_factors) return torch::zeros({}, mean.options());
  const auto u = clamp_ids(users, options_.num_users);
  const auto i = clamp_ids(items, options_.num_items);
  const auto rows = user_bias(u).pow(2).sum(1) + item_bias(i).pow(2).sum(1) +
                    user_factors(u).pow(2).sum(1) + item_factors(i).pow(2).sum(1);  // (B)
  auto p = options_.mf_regularization * rows.mean();
  if (user_text_factors)
    p = p + options_.text_factor_regularization *
                (user_text_factors->weight.pow(2).sum() + item_text_factors->weight.pow(2).sum());
  return p;
}

torch::Tensor LoidModelImpl::penalty_rows_sum(const torch::Tensor& users,
                                              const torch::Tensor& items) {
  if (!user_factors) return torch::zeros({}, mean.options());
  const auto u = clamp_ids(users, options_.num_users);
  const auto i = clamp_ids(items, options_.num_items);
  const auto rows = user_bias(u).pow(2).sum(1) + item_bias(i).pow(2).sum(1) +
                    user_factors(u).pow(2).sum(1) + item_factors(i).pow(2).sum(1);  // (B)
  return options_.mf_regularization * rows.sum();
}

torch::Tensor LoidModelImpl::penalty_global() {
  if (!user_text_factors) return torch::zeros({}, mean.options());
  return options_.text_factor_regularization *
         (user_text_factors->weight.pow(2).sum() + item_text_factors->weight.pow(2).sum());
}

std::pair<torch::Tensor, torch::Tensor> text_whitening(const torch::Tensor& vectors,
                                                       std::int64_t dims) {
  torch::NoGradGuard no_grad;
  const auto x = vectors.to(torch::kFloat64);
  const std::int64_t n = x.size(0), d = x.size(1);
  const auto mean = n > 0 ? x.mean(0) : torch::zeros({d}, torch::kFloat64);
  auto basis = torch::zeros({dims, d}, torch::kFloat64);
  if (n >= 2 && dims > 0) {
    const auto c = x - mean;
    const auto cov = torch::matmul(c.t(), c) / static_cast<double>(n - 1);  // (D, D)
    const auto [values, directions] = torch::linalg_eigh(cov, "L");         // ascending eigenvalues
    const double top = values[d - 1].item<double>();
    for (std::int64_t j = 0; j < std::min(dims, d); ++j) {
      const double v = values[d - 1 - j].item<double>();
      if (!(v > 1e-10 * top)) break;  // beyond the data's rank: zero rows
      basis[j] = directions.select(1, d - 1 - j) / std::sqrt(v);
    }
  }
  return {mean.to(torch::kFloat32), basis.to(torch::kFloat32)};
}

void set_text_whitening(LoidModelImpl& model, const torch::Tensor& vectors) {
  if (!model.user_text_factors) return;
  const auto [m, b] = text_whitening(vectors, model.options().text_factors);
  torch::NoGradGuard no_grad;
  model.text_mean.copy_(m);
  model.text_basis.copy_(b);
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
  if (user_factors) {
    auto f_u = user_factors(u), f_i = item_factors(i);  // (B, F)
    if (user_text_factors) {
      f_u = f_u + user_text_factors(text_factor_input(user_text, user_mask));
      f_i = f_i + item_text_factors(text_factor_input(item_text, item_mask));
    }
    out.prediction = out.prediction + (f_u * f_i).sum(1);  // (B)
  }
  return out;
}

namespace {

// Eight partial sums, so that the compiler may keep them in vector registers.
float dot(const float* a, const float* b, std::int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int t = 0; t < 8; ++t) s[t] += a[j + t] * b[j + t];
  for (; j < n; ++j) s[0] += a[j] * b[j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void axpy(float* acc, float a, const float* x, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) acc[j] += a * x[j];
}

}  // namespace

LoidPrecomputed::Side LoidPrecomputed::build_side(LoidModelImpl& model,
                                                  const std::vector<std::int64_t>& contexts,
                                                  std::size_t k, const torch::Tensor& vectors,
                                                  const torch::Tensor& id_weight,
                                                  IdTextAttentionImpl& query_attention,
                                                  IdTextAttentionImpl& context_attention,
                                                  const torch::Tensor& first_layer_half) const {
  if (k == 0 || contexts.size() % k != 0)
    throw UsageError("precomputed LoID: contexts are not rows of k = " + std::to_string(k));
  const auto rows = static_cast<std::int64_t>(contexts.size() / k);
  Side side;
  side.query = to_float_vector(query_attention.q(id_weight.slice(0, 0, rows)));  // (rows, E)
  std::vector<std::int64_t> ids;
  side.start.push_back(0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < k; ++j) {
      const std::int64_t id = contexts[static_cast<std::size_t>(r) * k + j];
      if (id < 0) continue;
      if (id >= vectors.size(0))
        throw UsageError("precomputed LoID: review id " + std::to_string(id) +
                         " beyond the vector table");
      ids.push_back(id);
    }
    side.start.push_back(static_cast<std::int64_t>(ids.size()));
  }
  if (ids.empty()) return side;
  const auto s = static_cast<std::int64_t>(ids.size());
  auto x = vectors.index_select(0, torch::tensor(ids, torch::kInt64));  // (S, D)
  if (model.text_projection) x = model.text_projection(x);              // (S, E)
  side.keys = to_float_vector(context_attention.k(x));                  // (S, E)
  // Per review and head: the value's head block through the output projection and this side's
  // half of the MLP's first layer, in double (the folding is the only reordering of sums).
  const auto v = context_attention.v(x).to(torch::kFloat64).view({s, heads_, -1});  // (S, h, d)
  const auto folded = torch::matmul(first_layer_half.to(torch::kFloat64),
                                    context_attention.o->weight.to(torch::kFloat64))
                          .view({hidden_, heads_, -1});                       // (hidden, h, d)
  side.values = to_float_vector(torch::einsum("shd,ohd->sho", {v, folded}));  // (S, h, hidden)
  return side;
}

LoidPrecomputed::LoidPrecomputed(LoidModelImpl& model,
                                 const std::vector<std::int64_t>& user_contexts,
                                 const std::vector<std::int64_t>& item_contexts, std::size_t k,
                                 const torch::Tensor& vectors)
    : k_(k) {
  torch::NoGradGuard no_grad;
  const LoidModelOptions& o = model.options();
  width_ = o.embed_size;
  heads_ = o.heads;
  hidden_ = o.hidden;
  scale_ = static_cast<float>(1.0 / std::sqrt(static_cast<double>(width_ / heads_)));
  if (user_contexts.size() != static_cast<std::size_t>(o.num_users) * k ||
      item_contexts.size() != static_cast<std::size_t>(o.num_items) * k)
    throw UsageError("precomputed LoID: need k contexts for each of the model's " +
                     std::to_string(o.num_users) + " users and " + std::to_string(o.num_items) +
                     " items");
  const auto& first = model.predictor_hidden;
  const auto& last = model.predictor_out;
  const auto w1 = first->weight;  // (hidden, 2E): [v_u, v_i]
  const auto w1_u = w1.slice(1, 0, width_), w1_i = w1.slice(1, width_, 2 * width_);
  users_ = build_side(model, user_contexts, k, vectors, model.user_embedding->weight,
                      *model.user_over_item, *model.item_over_user, w1_i);
  items_ = build_side(model, item_contexts, k, vectors, model.item_embedding->weight,
                      *model.item_over_user, *model.user_over_item, w1_u);
  // An attention's output bias reaches the first layer whatever it attends to (its weights sum to
  // one, or to zero with the context): fold both into that layer's bias.
  const auto d = [](const torch::Tensor& t) { return t.to(torch::kFloat64); };
  hidden_bias_ =
      to_float_vector(d(first->bias) + torch::matmul(d(w1_u), d(model.user_over_item->o->bias)) +
                      torch::matmul(d(w1_i), d(model.item_over_user->o->bias)));
  out_weight_ = to_float_vector(last->weight.view({-1}));
  out_bias_ = last->bias.item<float>() + model.mean.item<float>();
  if (o.id_biases) {
    user_bias_ = to_float_vector(model.user_bias->weight.view({-1}));
    item_bias_ = to_float_vector(model.item_bias->weight.view({-1}));
  }
  if (model.user_factors) {
    factors_ = o.mf_factors;
    user_factors_ = to_float_vector(model.user_factors->weight);
    item_factors_ = to_float_vector(model.item_factors->weight);
  }
  if (model.user_text_factors) {
    // Each row's text factors depend only on its fixed context: fold them into its factors.
    const auto fold = [&](const std::vector<std::int64_t>& contexts, torch::nn::Linear& map,
                          std::vector<float>& factors) {
      const auto rows = static_cast<std::int64_t>(contexts.size() / k);
      if (rows == 0) return;
      const auto ids = torch::tensor(contexts, torch::kInt64);
      const auto mask = (ids >= 0).to(torch::kFloat32).view({rows, static_cast<std::int64_t>(k)});
      const auto text = vectors.index_select(0, ids.clamp_min(0))
                            .view({rows, static_cast<std::int64_t>(k), -1});       // (rows, k, D)
      const auto add = to_float_vector(map(model.text_factor_input(text, mask)));  // (rows, F)
      for (std::size_t j = 0; j < add.size(); ++j) factors[j] += add[j];
    };
    fold(user_contexts, model.user_text_factors, user_factors_);
    fold(item_contexts, model.item_text_factors, item_factors_);
  }
}

void LoidPrecomputed::attend(const float* query, const Side& side, std::int64_t row, float* acc,
                             float* scores) const {
  const std::int64_t first = side.start[static_cast<std::size_t>(row)];
  const std::int64_t n = side.start[static_cast<std::size_t>(row) + 1] - first;
  if (n == 0) return;  // no reviews: the context is zero, only the output bias (folded) remains
  const std::int64_t d = width_ / heads_;
  for (std::int64_t h = 0; h < heads_; ++h) {
    float top = -INFINITY;
    for (std::int64_t j = 0; j < n; ++j) {
      scores[j] = dot(query + h * d, side.keys.data() + (first + j) * width_ + h * d, d) * scale_;
      top = std::max(top, scores[j]);
    }
    float sum = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      scores[j] = std::exp(scores[j] - top);
      sum += scores[j];
    }
    for (std::int64_t j = 0; j < n; ++j)
      axpy(acc, scores[j] / sum, side.values.data() + ((first + j) * heads_ + h) * hidden_,
           hidden_);
  }
}

void LoidPrecomputed::predict(const std::int64_t* users, const std::int64_t* items, std::size_t n,
                              float* out) const {
  std::vector<float> scratch(static_cast<std::size_t>(hidden_) + k_);
  float* acc = scratch.data();
  float* scores = acc + hidden_;
  for (std::size_t r = 0; r < n; ++r) {
    const std::int64_t u = users[r], i = items[r];
    if (u < 0 || u >= num_users() || i < 0 || i >= num_items())
      throw UsageError("precomputed LoID: (user " + std::to_string(u) + ", item " +
                       std::to_string(i) + ") is not a pair of known ids");
    std::copy(hidden_bias_.begin(), hidden_bias_.end(), acc);
    attend(items_.query.data() + i * width_, users_, u, acc, scores);  // v_i: item over user
    attend(users_.query.data() + u * width_, items_, i, acc, scores);  // v_u: user over item
    float y = 0;
    for (std::int64_t j = 0; j < hidden_; ++j) y += std::max(acc[j], 0.0f) * out_weight_[j];
    y += out_bias_;
    if (!user_bias_.empty()) y += user_bias_[u] + item_bias_[i];
    if (factors_ > 0)
      y += dot(user_factors_.data() + u * factors_, item_factors_.data() + i * factors_, factors_);
    out[r] = y;
  }
}

float LoidPrecomputed::predict(std::int64_t user, std::int64_t item) const {
  float y = 0;
  predict(&user, &item, 1, &y);
  return y;
}

std::size_t LoidPrecomputed::bytes() const {
  std::size_t n = 0;
  for (const Side* s : {&users_, &items_})
    n += (s->query.size() + s->keys.size() + s->values.size()) * sizeof(float) +
         s->start.size() * sizeof(std::int64_t);
  return n + (hidden_bias_.size() + out_weight_.size() + user_bias_.size() + item_bias_.size() +
              user_factors_.size() + item_factors_.size()) *
                 sizeof(float);
}

namespace {

// Per row: the hinge of both triplets (anchor v_i, positive p_u; anchor v_u, positive p_i), (B).
torch::Tensor triplet_rows(const LoidOutput& out, const torch::Tensor& negative_p_u,
                           const torch::Tensor& negative_p_i, double margin) {
  const auto term = [margin](const torch::Tensor& a, const torch::Tensor& pos,
                             const torch::Tensor& neg) {
    const auto dp = (a - pos).pow(2).sum(1);
    const auto dn = (a - neg).pow(2).sum(1);
    return torch::relu(dp - dn + margin);
  };
  return term(out.v_i, out.p_u, negative_p_u) + term(out.v_u, out.p_i, negative_p_i);
}

}  // namespace

torch::Tensor triplet_loss(const LoidOutput& out, double margin, std::int64_t shift) {
  const std::int64_t b = out.p_u.size(0);
  if (b < 2) return torch::zeros({}, out.p_u.options());
  return triplet_rows(out, torch::roll(out.p_u, shift, 0), torch::roll(out.p_i, shift, 0), margin)
      .mean();
}

torch::Tensor triplet_loss_sum(const LoidOutput& out, const torch::Tensor& negative_p_u,
                               const torch::Tensor& negative_p_i, double margin) {
  return triplet_rows(out, negative_p_u, negative_p_i, margin).sum();
}

}  // namespace loid
