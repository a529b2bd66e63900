// RGCL as a rating baseline (see rgcl.h).
#include "rec/rgcl.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "nn/threads.h"

namespace loid {

namespace {

constexpr std::int64_t kLevels = 5;  // rating levels 1..5

// InfoNCE of rows of a against the same rows of b (the other rows of b are the negatives).
torch::Tensor info_nce(const torch::Tensor& a, const torch::Tensor& b, double temperature) {
  const torch::Tensor an =
      torch::nn::functional::normalize(a, torch::nn::functional::NormalizeFuncOptions().dim(1));
  const torch::Tensor bn =
      torch::nn::functional::normalize(b, torch::nn::functional::NormalizeFuncOptions().dim(1));
  const torch::Tensor logits = an.mm(bn.t()) / temperature;  // (B, B)
  return torch::nn::functional::cross_entropy(logits, torch::arange(a.size(0)));
}

}  // namespace

RgclImpl::RgclImpl(const RowTensors& train, const torch::Tensor& vectors, std::int64_t num_users,
                   std::int64_t num_items, float mean, std::int64_t dim, const RgclOptions& o)
    : edge_users_(train.users),
      edge_items_(train.items),
      edge_levels_(train.ratings.round().clamp(1, kLevels).to(torch::kInt64) - 1),
      vectors_(vectors),
      num_users_(num_users),
      num_items_(num_items),
      mean_(mean),
      options_(o) {
  seen_users_ = torch::zeros({num_users}, torch::kBool).index_fill_(0, edge_users_, true);
  seen_items_ = torch::zeros({num_items}, torch::kBool).index_fill_(0, edge_items_, true);
  user_embedding = register_module("user_embedding", id_table(num_users, dim, 0.1));
  item_embedding = register_module("item_embedding", id_table(num_items, dim, 0.1));
  review = register_module("review", torch::nn::Linear(vectors.size(1), dim));
  level_weights = register_parameter(
      "level_weights", torch::randn({kLevels, dim, dim}) / std::sqrt(static_cast<double>(dim)));
  level_gates = register_parameter("level_gates", torch::randn({kLevels, dim}) * 0.1);
  interaction = register_module("interaction", torch::nn::Linear(4 * dim, dim));
  head_hidden = register_module("head_hidden", torch::nn::Linear(4 * dim, dim));
  head_out = register_module("head_out", torch::nn::Linear(dim, 1));
  user_bias = register_module("user_bias", id_table(num_users, 1, 0.0));
  item_bias = register_module("item_bias", id_table(num_items, 1, 0.0));
  torch::NoGradGuard no_grad;
  head_out->weight.zero_();
  head_out->bias.zero_();
}

std::pair<torch::Tensor, torch::Tensor> RgclImpl::encode(const torch::Tensor& edges) {
  const torch::Tensor hu = user_embedding->weight.narrow(0, 0, num_users_);  // (U, d)
  const torch::Tensor hi = item_embedding->weight.narrow(0, 0, num_items_);  // (I, d)
  const torch::Tensor eu = edge_users_.index_select(0, edges);               // (E')
  const torch::Tensor ei = edge_items_.index_select(0, edges);               // (E')
  const torch::Tensor lv = edge_levels_.index_select(0, edges);              // (E')
  const torch::Tensor f = review(vectors_.index_select(0, edges));           // (E', d)
  const torch::Tensor gate =
      torch::sigmoid((f * level_gates.index_select(0, lv)).sum(1, true));  // (E', 1)
  const torch::Tensor ones = torch::ones({edges.size(0), 1});
  const torch::Tensor deg_u = scatter_sum(ones, eu, num_users_).clamp_min(1.0);  // (U, 1)
  const torch::Tensor deg_i = scatter_sum(ones, ei, num_items_).clamp_min(1.0);  // (I, 1)
  const torch::Tensor norm =
      (deg_u.index_select(0, eu) * deg_i.index_select(0, ei)).rsqrt();  // (E', 1)
  // W_r h for every node and level, then each edge's row: (5 * n, d) indexed by level * n + node.
  const torch::Tensor hu_levels =
      torch::matmul(hu.unsqueeze(0), level_weights).reshape({kLevels * num_users_, -1});  // (5U, d)
  const torch::Tensor hi_levels =
      torch::matmul(hi.unsqueeze(0), level_weights).reshape({kLevels * num_items_, -1});  // (5I, d)
  const torch::Tensor to_user = gate * hi_levels.index_select(0, lv * num_items_ + ei) + f;
  const torch::Tensor to_item = gate * hu_levels.index_select(0, lv * num_users_ + eu) + f;
  const torch::Tensor gu = torch::leaky_relu(scatter_sum(to_user * norm, eu, num_users_), 0.2);
  const torch::Tensor gi = torch::leaky_relu(scatter_sum(to_item * norm, ei, num_items_), 0.2);
  return {torch::cat({hu, gu}, 1), torch::cat({hi, gi}, 1)};  // (U, 2d), (I, 2d)
}

torch::Tensor RgclImpl::rate(const torch::Tensor& zu, const torch::Tensor& zi,
                             const torch::Tensor& users, const torch::Tensor& items) {
  const torch::Tensor pair =
      torch::cat({zu.index_select(0, users), zi.index_select(0, items)}, 1);  // (B, 4d)
  const torch::Tensor z = torch::relu(head_hidden(pair));                     // (B, d)
  // Users or items without a training edge get no interaction term (their vectors were never
  // trained); their biases stay 0 for the same reason.
  const torch::Tensor warm =
      (seen_users_.index_select(0, users) & seen_items_.index_select(0, items))
          .to(torch::kFloat32);  // (B)
  return mean_ + user_bias(users).squeeze(1) + item_bias(items).squeeze(1) +
         warm * head_out(z).squeeze(1);  // (B)
}

std::pair<torch::Tensor, torch::Tensor> RgclImpl::train_forward(const torch::Tensor& rows) {
  // The batch's own edges (and so its reviews and ratings) are out of the graph for this step.
  const torch::Tensor keep = all_but(edge_users_.size(0), rows);  // (E - B)
  const auto [zu, zi] = encode(keep);
  const torch::Tensor users = edge_users_.index_select(0, rows);  // (B)
  const torch::Tensor items = edge_items_.index_select(0, rows);  // (B)
  const torch::Tensor pred = rate(zu, zi, users, items);
  torch::Tensor aux = torch::zeros({});
  const double tau = options_.temperature;
  if (options_.node_weight > 0 && keep.size(0) > 0) {
    // Two views of the graph by edge dropout; the batch's users and items against themselves.
    const auto view = [&] {
      return keep.masked_select(torch::rand({keep.size(0)}) >= options_.edge_dropout);
    };
    const auto [u1, i1] = encode(view());
    const auto [u2, i2] = encode(view());
    const torch::Tensor bu = std::get<0>(torch::_unique(users));
    const torch::Tensor bi = std::get<0>(torch::_unique(items));
    aux = aux +
          options_.node_weight * (info_nce(u1.index_select(0, bu), u2.index_select(0, bu), tau) +
                                  info_nce(i1.index_select(0, bi), i2.index_select(0, bi), tau));
  }
  if (options_.edge_weight > 0) {
    // The interaction against its own review (a target here, never an input of `pred`).
    const torch::Tensor q = interaction(
        torch::cat({zu.index_select(0, users), zi.index_select(0, items)}, 1));  // (B, d)
    const torch::Tensor f = review(vectors_.index_select(0, rows));              // (B, d)
    aux = aux + options_.edge_weight * info_nce(q, f, tau);
  }
  return {pred, aux};
}

torch::Tensor RgclImpl::predict(const torch::Tensor& users, const torch::Tensor& items) {
  const auto [zu, zi] = encode(torch::arange(edge_users_.size(0)));
  return rate(zu, zi, users, items);
}

IdBaselineResult train_rgcl(const Dataset& dataset, const Split& split,
                            const torch::Tensor& vectors, const RgclOptions& o) {
  if (o.node_weight < 0 || o.edge_weight < 0 || !(o.temperature > 0) || o.edge_dropout < 0 ||
      o.edge_dropout >= 1 || o.threads < 0)
    throw UsageError(
        "rgcl: invalid options (contrastive weights must not be negative, the temperature must "
        "be positive, the edge dropout in [0, 1), threads not negative)");
  if (!vectors.defined() || vectors.dim() != 2 || vectors.size(0) != dataset.num_reviews()) {
    std::string got = "none";
    if (vectors.defined()) {
      got = "shape [";
      for (std::int64_t k = 0; k < vectors.dim(); ++k)
        got += (k ? ", " : "") + std::to_string(vectors.size(k));
      got += "]";
    }
    throw UsageError(
        "rgcl: the review-vector table must be (reviews, width) with one row per "
        "review (" +
        std::to_string(dataset.num_reviews()) + "), got " + got);
  }
  if (split.train.empty()) throw UsageError("rgcl: no training reviews");
  if (o.threads > 0) set_threads(o.threads);
  const RowTensors train = row_tensors(rating_rows(dataset, split.train));
  // Only the training reviews' rows are taken: held-out rows of the table are never read.
  const torch::Tensor train_vectors =
      vectors.to(torch::kFloat32).index_select(0, torch::tensor(split.train, torch::kInt64));
  const float mean = global_mean(rating_rows(dataset, split.train));
  IdTrainOptions t = id_train_options("rgcl", o);
  return fit_id_grid(
      [&](const IdGridPoint& p) {
        return std::make_shared<RgclImpl>(train, train_vectors, dataset.num_users(),
                                          dataset.num_items(), mean, p.dim, o);
      },
      dataset, split, o.dims, o.weight_decays, t);
}

}  // namespace loid
