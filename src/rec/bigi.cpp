// BiGI as a rating baseline (see bigi.h).
#include "rec/bigi.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "nn/threads.h"

namespace loid {

BigiImpl::BigiImpl(const RowTensors& train, std::int64_t num_users, std::int64_t num_items,
                   float mean, std::int64_t dim, const BigiOptions& o)
    : edge_users_(train.users),
      edge_items_(train.items),
      num_users_(num_users),
      num_items_(num_items),
      mean_(mean),
      layers_(o.layers),
      mi_weight_(o.mi_weight) {
  user_embedding = register_module("user_embedding", id_table(num_users, dim, 0.1));
  item_embedding = register_module("item_embedding", id_table(num_items, dim, 0.1));
  user_layers = register_module("user_layers", torch::nn::ModuleList());
  item_layers = register_module("item_layers", torch::nn::ModuleList());
  for (int l = 0; l < layers_; ++l) {
    user_layers->push_back(torch::nn::Linear(2 * dim, dim));
    item_layers->push_back(torch::nn::Linear(2 * dim, dim));
  }
  global = register_module("global", torch::nn::Linear(2 * dim, dim));
  local = register_module("local", torch::nn::Linear(2 * dim, dim));
  discriminator = register_module("discriminator", torch::nn::Bilinear(dim, dim, 1));
  head_hidden = register_module("head_hidden", torch::nn::Linear(3 * dim, dim));
  head_out = register_module("head_out", torch::nn::Linear(dim, 1));
  user_bias = register_module("user_bias", id_table(num_users, 1, 0.0));
  item_bias = register_module("item_bias", id_table(num_items, 1, 0.0));
  torch::NoGradGuard no_grad;
  head_out->weight.zero_();
  head_out->bias.zero_();
}

std::pair<torch::Tensor, torch::Tensor> BigiImpl::encode(const torch::Tensor& eu,
                                                         const torch::Tensor& ei) {
  torch::Tensor hu = user_embedding->weight.narrow(0, 0, num_users_);  // (U, d)
  torch::Tensor hi = item_embedding->weight.narrow(0, 0, num_items_);  // (I, d)
  const torch::Tensor ones = torch::ones({eu.size(0), 1});
  const torch::Tensor deg_u = scatter_sum(ones, eu, num_users_).clamp_min(1.0);  // (U, 1)
  const torch::Tensor deg_i = scatter_sum(ones, ei, num_items_).clamp_min(1.0);  // (I, 1)
  for (int l = 0; l < layers_; ++l) {
    const torch::Tensor agg_u = scatter_sum(hi.index_select(0, ei), eu, num_users_) / deg_u;
    const torch::Tensor agg_i = scatter_sum(hu.index_select(0, eu), ei, num_items_) / deg_i;
    const torch::Tensor nu = torch::leaky_relu(
        user_layers[l]->as<torch::nn::Linear>()->forward(torch::cat({hu, agg_u}, 1)), 0.2);
    const torch::Tensor ni = torch::leaky_relu(
        item_layers[l]->as<torch::nn::Linear>()->forward(torch::cat({hi, agg_i}, 1)), 0.2);
    hu = nu;  // (U, d)
    hi = ni;  // (I, d)
  }
  return {hu, hi};
}

torch::Tensor BigiImpl::mi_loss(const torch::Tensor& eu, const torch::Tensor& ei,
                                const torch::Tensor& hu, const torch::Tensor& hi) {
  const std::int64_t e = eu.size(0);
  if (e == 0) return torch::zeros({});
  // The corrupted graph: every edge keeps its user and takes another edge's item.
  const torch::Tensor fake_items = ei.index_select(0, torch::randperm(e, torch::kInt64));  // (E)
  const auto [cu, ci] = encode(eu, fake_items);
  const torch::Tensor g =
      torch::sigmoid(global(torch::cat({hu.mean(0), hi.mean(0)}).unsqueeze(0)));  // (1, d)
  const std::int64_t n = std::min<std::int64_t>(e, 512);
  const torch::Tensor pick = torch::randint(e, {n}, torch::kInt64);  // (n)
  const torch::Tensor su = eu.index_select(0, pick), si = ei.index_select(0, pick);
  const torch::Tensor fi = fake_items.index_select(0, pick);
  const torch::Tensor real_local =
      torch::tanh(local(torch::cat({hu.index_select(0, su), hi.index_select(0, si)}, 1)));
  const torch::Tensor fake_local =
      torch::tanh(local(torch::cat({cu.index_select(0, su), ci.index_select(0, fi)}, 1)));
  const torch::Tensor gg = g.expand({n, g.size(1)});                          // (n, d)
  const torch::Tensor real_score = discriminator(real_local, gg).squeeze(1);  // (n)
  const torch::Tensor fake_score = discriminator(fake_local, gg).squeeze(1);  // (n)
  return torch::binary_cross_entropy_with_logits(real_score, torch::ones_like(real_score)) +
         torch::binary_cross_entropy_with_logits(fake_score, torch::zeros_like(fake_score));
}

torch::Tensor BigiImpl::rate(const torch::Tensor& hu, const torch::Tensor& hi,
                             const torch::Tensor& users, const torch::Tensor& items) {
  const torch::Tensor u = hu.index_select(0, users), i = hi.index_select(0, items);  // (B, d)
  const torch::Tensor z = torch::relu(head_hidden(torch::cat({u, i, u * i}, 1)));    // (B, d)
  // Users or items without a training edge get no interaction term (their vectors were never
  // trained); their biases stay 0 for the same reason.
  const torch::Tensor ones = torch::ones({edge_users_.size(0), 1});
  const torch::Tensor seen_u = scatter_sum(ones, edge_users_, num_users_).gt(0).squeeze(1);
  const torch::Tensor seen_i = scatter_sum(ones, edge_items_, num_items_).gt(0).squeeze(1);
  const torch::Tensor warm =
      (seen_u.index_select(0, users) & seen_i.index_select(0, items)).to(torch::kFloat32);  // (B)
  return mean_ + user_bias(users).squeeze(1) + item_bias(items).squeeze(1) +
         warm * head_out(z).squeeze(1);  // (B)
}

std::pair<torch::Tensor, torch::Tensor> BigiImpl::train_forward(const torch::Tensor& rows) {
  // The batch's own edges are out of the graph for this step.
  const torch::Tensor keep = all_but(edge_users_.size(0), rows);
  const torch::Tensor eu = edge_users_.index_select(0, keep),
                      ei = edge_items_.index_select(0, keep);
  const auto [hu, hi] = encode(eu, ei);
  const torch::Tensor pred =
      rate(hu, hi, edge_users_.index_select(0, rows), edge_items_.index_select(0, rows));
  const torch::Tensor aux =
      mi_weight_ > 0 ? mi_weight_ * mi_loss(eu, ei, hu, hi) : torch::zeros({});
  return {pred, aux};
}

torch::Tensor BigiImpl::predict(const torch::Tensor& users, const torch::Tensor& items) {
  const auto [hu, hi] = encode(edge_users_, edge_items_);
  return rate(hu, hi, users, items);
}

IdBaselineResult train_bigi(const Dataset& dataset, const Split& split, const BigiOptions& o) {
  if (o.layers < 1 || o.mi_weight < 0 || !std::isfinite(o.mi_weight) || o.threads < 0)
    throw UsageError(
        "bigi: invalid options (layers must be at least 1, the MI weight and threads "
        "not negative)");
  if (o.threads > 0) set_threads(o.threads);
  const RowTensors train = row_tensors(rating_rows(dataset, split.train));
  const float mean = split.train.empty() ? 3.0f : global_mean(rating_rows(dataset, split.train));
  IdTrainOptions t = id_train_options("bigi", o);
  return fit_id_grid(
      [&](const IdGridPoint& p) {
        return std::make_shared<BigiImpl>(train, dataset.num_users(), dataset.num_items(), mean,
                                          p.dim, o);
      },
      dataset, split, o.dims, o.weight_decays, t);
}

}  // namespace loid
