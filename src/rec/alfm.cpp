// ALFM as a rating baseline (see alfm.h).
#include "rec/alfm.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "nn/threads.h"
#include "rec/word_docs.h"

namespace loid {

AspectTopics fit_aspect_topics(const Dataset& dataset, const Split& split, const AlfmOptions& o) {
  const int a_count = o.aspects;
  // Vocabulary: training words seen at least min_count times and in at most max_doc_fraction of
  // the training reviews (the most common words say nothing about an aspect).
  std::vector<std::vector<std::string>> tokens(split.train.size());
  std::map<std::string, std::int64_t> count, docs;
  for (std::size_t k = 0; k < split.train.size(); ++k) {
    tokens[k] = word_tokens(dataset.review(split.train[k]).text);
    std::vector<std::string> seen = tokens[k];
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (const auto& w : tokens[k]) ++count[w];
    for (const auto& w : seen) ++docs[w];
  }
  AspectTopics t;
  t.aspects = a_count;
  std::unordered_map<std::string, std::int32_t> id;
  const double max_docs = o.max_doc_fraction * static_cast<double>(split.train.size());
  for (const auto& [w, c] : count) {
    if (c < o.min_count || static_cast<double>(docs[w]) > max_docs) continue;
    id[w] = static_cast<std::int32_t>(t.words.size());
    t.words.push_back(w);
  }
  const auto v = static_cast<std::int64_t>(t.words.size());
  // Collapsed Gibbs sampling over the training tokens.
  std::vector<std::vector<std::int32_t>> doc_words(split.train.size()), z(split.train.size());
  std::vector<std::vector<std::int32_t>> n_dk(split.train.size(),
                                              std::vector<std::int32_t>(a_count, 0));
  std::vector<std::int64_t> n_kw(static_cast<std::size_t>(a_count * std::max<std::int64_t>(v, 1)),
                                 0);
  std::vector<std::int64_t> n_k(static_cast<std::size_t>(a_count), 0);
  Rng rng = Rng(o.seed).fork(0x616c666dULL);  // "alfm"
  for (std::size_t d = 0; d < tokens.size(); ++d) {
    for (const auto& w : tokens[d]) {
      const auto it = id.find(w);
      if (it == id.end()) continue;
      const auto k = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(a_count)));
      doc_words[d].push_back(it->second);
      z[d].push_back(k);
      ++n_dk[d][static_cast<std::size_t>(k)];
      ++n_kw[static_cast<std::size_t>(k * v + it->second)];
      ++n_k[static_cast<std::size_t>(k)];
    }
  }
  std::vector<double> p(static_cast<std::size_t>(a_count));
  const double vb = static_cast<double>(v) * o.beta;
  for (int it = 0; it < o.topic_iterations; ++it) {
    for (std::size_t d = 0; d < doc_words.size(); ++d) {
      for (std::size_t j = 0; j < doc_words[d].size(); ++j) {
        const std::int32_t w = doc_words[d][j];
        std::int32_t k = z[d][j];
        --n_dk[d][static_cast<std::size_t>(k)];
        --n_kw[static_cast<std::size_t>(k * v + w)];
        --n_k[static_cast<std::size_t>(k)];
        double total = 0.0;
        for (int a = 0; a < a_count; ++a) {
          const auto au = static_cast<std::size_t>(a);
          total += (n_dk[d][au] + o.alpha) * (n_kw[static_cast<std::size_t>(a * v + w)] + o.beta) /
                   (n_k[au] + vb);
          p[au] = total;
        }
        const double u = rng.uniform() * total;
        k = 0;
        while (k + 1 < a_count && p[static_cast<std::size_t>(k)] <= u) ++k;
        z[d][j] = k;
        ++n_dk[d][static_cast<std::size_t>(k)];
        ++n_kw[static_cast<std::size_t>(k * v + w)];
        ++n_k[static_cast<std::size_t>(k)];
      }
    }
  }
  t.counts.assign(static_cast<std::size_t>(dataset.num_reviews()), {});
  for (std::size_t d = 0; d < split.train.size(); ++d)
    t.counts[static_cast<std::size_t>(split.train[d])] = n_dk[d];
  return t;
}

namespace {

// Per user (by_user) or item: the summed aspect counts of its training reviews, (n * A).
std::vector<double> aspect_sums(const Dataset& dataset, const Split& split,
                                const AspectTopics& topics, bool by_user) {
  const int a_count = topics.aspects;
  const std::int64_t n = by_user ? dataset.num_users() : dataset.num_items();
  std::vector<double> sums(static_cast<std::size_t>(n * a_count), 0.0);
  for (std::int64_t r : split.train) {
    const std::int64_t owner = by_user ? dataset.user_of(r) : dataset.item_of(r);
    const auto& c = topics.counts[static_cast<std::size_t>(r)];
    for (int a = 0; a < a_count && !c.empty(); ++a)
      sums[static_cast<std::size_t>(owner * a_count + a)] += c[static_cast<std::size_t>(a)];
  }
  return sums;
}

// Row k of the result: the alpha-smoothed shares of owners[k]'s sums less minus[k] (may be null).
torch::Tensor smoothed_shares(const std::vector<double>& sums, int a_count,
                              const std::vector<std::int64_t>& owners,
                              const std::vector<const std::vector<std::int32_t>*>& minus,
                              double alpha) {
  torch::Tensor out = torch::empty({static_cast<std::int64_t>(owners.size()), a_count});
  auto acc = out.accessor<float, 2>();
  std::vector<double> row(static_cast<std::size_t>(a_count));
  for (std::size_t k = 0; k < owners.size(); ++k) {
    double total = 0.0;
    for (int a = 0; a < a_count; ++a) {
      const auto au = static_cast<std::size_t>(a);
      const double own = (minus[k] != nullptr && !minus[k]->empty()) ? (*minus[k])[au] : 0.0;
      row[au] = sums[static_cast<std::size_t>(owners[k] * a_count + a)] - own + alpha;
      total += row[au];
    }
    for (int a = 0; a < a_count; ++a)
      acc[static_cast<std::int64_t>(k)][a] =
          static_cast<float>(row[static_cast<std::size_t>(a)] / total);
  }
  return out;
}

// Aspect importance of the user (by_user) or the item of each review (see alfm.h).
torch::Tensor aspect_importance(const Dataset& dataset, const Split& split,
                                const AspectTopics& topics,
                                const std::vector<std::int64_t>& review_ids, double alpha,
                                bool by_user) {
  const std::vector<double> sums = aspect_sums(dataset, split, topics, by_user);
  std::vector<std::int64_t> owners;
  std::vector<const std::vector<std::int32_t>*> minus;
  for (std::int64_t r : review_ids) {
    owners.push_back(by_user ? dataset.user_of(r) : dataset.item_of(r));
    minus.push_back(&topics.counts[static_cast<std::size_t>(r)]);  // empty unless training
  }
  return smoothed_shares(sums, topics.aspects, owners, minus, alpha);
}

// Aspect importance of every user (by_user) or item over all its training reviews, (n, A).
torch::Tensor id_importance(const Dataset& dataset, const Split& split, const AspectTopics& topics,
                            double alpha, bool by_user) {
  const std::int64_t n = by_user ? dataset.num_users() : dataset.num_items();
  std::vector<std::int64_t> owners(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) owners[static_cast<std::size_t>(k)] = k;
  return smoothed_shares(aspect_sums(dataset, split, topics, by_user), topics.aspects, owners,
                         std::vector<const std::vector<std::int32_t>*>(owners.size(), nullptr),
                         alpha);
}

class AlfmImpl : public IdRatingModelImpl {
 public:
  // train_users/items: the training rows' ids; train_rho_u/i (E, A): their aspect importance
  // without their own review; user_rho (U, A), item_rho (I, A): with every training review.
  AlfmImpl(const RowTensors& train, torch::Tensor train_rho_u, torch::Tensor train_rho_i,
           torch::Tensor user_rho, torch::Tensor item_rho, float mean, std::int64_t factors,
           double regularization)
      : users_(train.users),
        items_(train.items),
        train_rho_u_(std::move(train_rho_u)),
        train_rho_i_(std::move(train_rho_i)),
        user_rho_(std::move(user_rho)),
        item_rho_(std::move(item_rho)),
        mean_(mean),
        regularization_(regularization) {
    const std::int64_t a = user_rho_.size(1);
    user_factors = register_module(
        "user_factors",
        torch::nn::Embedding(std::max<std::int64_t>(user_rho_.size(0), 1), factors));
    item_factors = register_module(
        "item_factors",
        torch::nn::Embedding(std::max<std::int64_t>(item_rho_.size(0), 1), factors));
    user_bias = register_module(
        "user_bias", torch::nn::Embedding(std::max<std::int64_t>(user_rho_.size(0), 1), 1));
    item_bias = register_module(
        "item_bias", torch::nn::Embedding(std::max<std::int64_t>(item_rho_.size(0), 1), 1));
    aspect_weights = register_parameter("aspect_weights", torch::ones({a, factors}));
    torch::NoGradGuard no_grad;
    user_factors->weight.normal_(0.0, 0.1);
    item_factors->weight.normal_(0.0, 0.1);
    user_bias->weight.zero_();
    item_bias->weight.zero_();
  }

  // rho_u, rho_i (B, A) -> (B) unclamped ratings.
  torch::Tensor rate(const torch::Tensor& users, const torch::Tensor& items,
                     const torch::Tensor& rho_u, const torch::Tensor& rho_i) {
    torch::Tensor w = rho_u * rho_i;                                     // (B, A)
    w = w / w.sum(1, true);                                              // (B, A)
    const torch::Tensor pq = user_factors(users) * item_factors(items);  // (B, K)
    const torch::Tensor aspect_rating = pq.mm(aspect_weights.t());       // (B, A)
    return mean_ + user_bias(users).squeeze(1) + item_bias(items).squeeze(1) +
           (w * aspect_rating).sum(1);  // (B)
  }

  std::pair<torch::Tensor, torch::Tensor> train_forward(const torch::Tensor& rows) override {
    const torch::Tensor u = users_.index_select(0, rows), i = items_.index_select(0, rows);
    const torch::Tensor pred =
        rate(u, i, train_rho_u_.index_select(0, rows), train_rho_i_.index_select(0, rows));
    const torch::Tensor l2 = user_factors(u).pow(2).sum(1) + item_factors(i).pow(2).sum(1) +
                             user_bias(u).pow(2).squeeze(1) + item_bias(i).pow(2).squeeze(1);
    return {pred, regularization_ * l2.mean()};
  }

  torch::Tensor predict(const torch::Tensor& users, const torch::Tensor& items) override {
    return rate(users, items, user_rho_.index_select(0, users), item_rho_.index_select(0, items));
  }

  torch::nn::Embedding user_factors{nullptr}, item_factors{nullptr};
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};
  torch::Tensor aspect_weights;  // (A, K)

 private:
  torch::Tensor users_, items_, train_rho_u_, train_rho_i_, user_rho_, item_rho_;
  float mean_;
  double regularization_;
};

}  // namespace

torch::Tensor user_aspects(const Dataset& dataset, const Split& split, const AspectTopics& topics,
                           const std::vector<std::int64_t>& review_ids, double alpha) {
  return aspect_importance(dataset, split, topics, review_ids, alpha, true);
}

torch::Tensor item_aspects(const Dataset& dataset, const Split& split, const AspectTopics& topics,
                           const std::vector<std::int64_t>& review_ids, double alpha) {
  return aspect_importance(dataset, split, topics, review_ids, alpha, false);
}

IdBaselineResult train_alfm(const Dataset& dataset, const Split& split, const AlfmOptions& o) {
  if (o.aspects < 1 || o.topic_iterations < 0 || !(o.alpha > 0) || !(o.beta > 0) ||
      o.min_count < 1 || !(o.max_doc_fraction > 0) || o.threads < 0)
    throw UsageError(
        "alfm: invalid options (aspects and min count must be at least 1, alpha, beta and the "
        "document fraction positive, topic iterations and threads not negative)");
  for (double r : o.regularizations)
    if (!(r >= 0)) throw UsageError("alfm: regularisation weights must not be negative");
  if (split.train.empty()) throw UsageError("alfm: no training reviews");
  if (o.threads > 0) set_threads(o.threads);
  const AspectTopics topics = fit_aspect_topics(dataset, split, o);
  log_info("alfm: " + std::to_string(o.aspects) + " aspects over a vocabulary of " +
           std::to_string(topics.words.size()) + " training words");
  // Held-out rows read every training review of their user and item (a cold id: uniform).
  const torch::Tensor user_rho = id_importance(dataset, split, topics, o.alpha, true);
  const torch::Tensor item_rho = id_importance(dataset, split, topics, o.alpha, false);
  const torch::Tensor train_rho_u = user_aspects(dataset, split, topics, split.train, o.alpha);
  const torch::Tensor train_rho_i = item_aspects(dataset, split, topics, split.train, o.alpha);
  const RowTensors train = row_tensors(rating_rows(dataset, split.train));
  const float mean = global_mean(rating_rows(dataset, split.train));
  IdTrainOptions t = id_train_options("alfm", o);
  t.grid_decay_in_adam = false;
  return fit_id_grid(
      [&](const IdGridPoint& p) {
        return std::make_shared<AlfmImpl>(train, train_rho_u, train_rho_i, user_rho, item_rho, mean,
                                          p.dim, p.weight_decay);
      },
      dataset, split, o.dims, o.regularizations, t);
}

}  // namespace loid
