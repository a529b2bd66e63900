#include "rec/mf.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "eval/metrics.h"

namespace loid {

RatingRows rating_rows(const Dataset& dataset, const std::vector<std::int64_t>& review_ids) {
  RatingRows rows;
  rows.user.reserve(review_ids.size());
  rows.item.reserve(review_ids.size());
  rows.rating.reserve(review_ids.size());
  for (std::int64_t id : review_ids) {
    rows.user.push_back(dataset.user_of(id));
    rows.item.push_back(dataset.item_of(id));
    rows.rating.push_back(dataset.review(id).rating);
  }
  return rows;
}

float global_mean(const RatingRows& train) {
  return global_mean(train.rating);
}

float global_mean(const std::vector<float>& ratings) {
  if (ratings.empty()) throw UsageError("global mean of an empty training set");
  double s = 0.0;
  for (float r : ratings) s += r;
  return static_cast<float>(s / static_cast<double>(ratings.size()));
}

namespace {
// Approximately normal draw (sum of 4 uniforms, rescaled): portable and good enough for init.
float small_normal(Rng& rng, double stddev) {
  double s = 0.0;
  for (int i = 0; i < 4; ++i) s += rng.uniform();
  return static_cast<float>((s - 2.0) * std::sqrt(3.0) * stddev);
}
}  // namespace

void BiasedMf::fit(const RatingRows& train, const RatingRows& validation, std::int64_t num_users,
                   std::int64_t num_items, const MfOptions& o) {
  if (o.factors < 0 || o.learning_rate <= 0 || o.regularization < 0 || o.max_epochs < 1) {
    throw UsageError("invalid matrix factorisation options");
  }
  k_ = o.factors;
  mu_ = global_mean(train);
  Rng rng(o.seed);
  bu_.assign(num_users, 0.0f);
  bi_.assign(num_items, 0.0f);
  p_.resize(static_cast<std::size_t>(num_users) * k_);
  q_.resize(static_cast<std::size_t>(num_items) * k_);
  for (float& x : p_) x = small_normal(rng, o.init_std);
  for (float& x : q_) x = small_normal(rng, o.init_std);
  user_seen_.assign(num_users, 0);
  item_seen_.assign(num_items, 0);
  for (std::size_t r = 0; r < train.size(); ++r) {
    user_seen_[train.user[r]] = 1;
    item_seen_[train.item[r]] = 1;
  }

  std::vector<std::size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  const float lr = static_cast<float>(o.learning_rate);
  const float reg = static_cast<float>(o.regularization);

  // Best parameters so far, restored at the end.
  std::vector<float> best_bu = bu_, best_bi = bi_, best_p = p_, best_q = q_;
  best_validation_mse_ = std::numeric_limits<double>::infinity();
  best_epoch_ = 0;
  int since_best = 0;
  for (int epoch = 1; epoch <= o.max_epochs; ++epoch) {
    shuffle(order, rng);
    for (std::size_t r : order) {
      const std::int64_t u = train.user[r], i = train.item[r];
      float* pu = p_.data() + u * k_;
      float* qi = q_.data() + i * k_;
      float dot = 0.0f;
      for (int f = 0; f < k_; ++f) dot += pu[f] * qi[f];
      const float err = train.rating[r] - (mu_ + bu_[u] + bi_[i] + dot);
      bu_[u] += lr * (err - reg * bu_[u]);
      bi_[i] += lr * (err - reg * bi_[i]);
      for (int f = 0; f < k_; ++f) {
        const float pf = pu[f];
        pu[f] += lr * (err * qi[f] - reg * pf);
        qi[f] += lr * (err * pf - reg * qi[f]);
      }
    }
    const double val_mse =
        validation.size() > 0 ? rating_metrics(predict(validation), validation.rating).mse : 0.0;
    if (val_mse < best_validation_mse_ - 1e-7) {
      best_validation_mse_ = val_mse;
      best_epoch_ = epoch;
      best_bu = bu_, best_bi = bi_, best_p = p_, best_q = q_;
      since_best = 0;
    } else if (++since_best >= o.patience) {
      break;
    }
  }
  bu_ = std::move(best_bu), bi_ = std::move(best_bi), p_ = std::move(best_p);
  q_ = std::move(best_q);
}

float BiasedMf::predict(std::int64_t u, std::int64_t i) const {
  float r = mu_;
  const bool us = u >= 0 && u < static_cast<std::int64_t>(bu_.size()) && user_seen_[u];
  const bool is = i >= 0 && i < static_cast<std::int64_t>(bi_.size()) && item_seen_[i];
  if (us) r += bu_[u];
  if (is) r += bi_[i];
  if (us && is) {
    const float* pu = p_.data() + u * k_;
    const float* qi = q_.data() + i * k_;
    for (int f = 0; f < k_; ++f) r += pu[f] * qi[f];
  }
  return std::clamp(r, 1.0f, 5.0f);
}

namespace {
std::vector<float> seen_rows(const std::vector<float>& factors,
                             const std::vector<std::uint8_t>& seen, int k) {
  std::vector<float> out(factors.size(), 0.0f);
  for (std::size_t r = 0; r < seen.size(); ++r)
    if (seen[r])
      std::copy_n(factors.begin() + static_cast<std::ptrdiff_t>(r * k), k,
                  out.begin() + static_cast<std::ptrdiff_t>(r * k));
  return out;
}
}  // namespace

std::vector<float> BiasedMf::user_factors() const {
  return seen_rows(p_, user_seen_, k_);
}
std::vector<float> BiasedMf::item_factors() const {
  return seen_rows(q_, item_seen_, k_);
}

std::vector<float> BiasedMf::predict(const RatingRows& rows) const {
  std::vector<float> out(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) out[r] = predict(rows.user[r], rows.item[r]);
  return out;
}

BiasedMf select_mf(const RatingRows& train, const RatingRows& validation, std::int64_t num_users,
                   std::int64_t num_items, const std::vector<int>& factor_grid,
                   const std::vector<double>& regularization_grid, MfOptions base,
                   MfOptions* chosen) {
  if (factor_grid.empty() || regularization_grid.empty()) throw UsageError("empty MF grid");
  BiasedMf best;
  double best_mse = std::numeric_limits<double>::infinity();
  for (int k : factor_grid) {
    for (double reg : regularization_grid) {
      MfOptions o = base;
      o.factors = k;
      o.regularization = reg;
      BiasedMf m;
      m.fit(train, validation, num_users, num_items, o);
      if (m.best_validation_mse() < best_mse) {
        best_mse = m.best_validation_mse();
        best = std::move(m);
        if (chosen) *chosen = o;
      }
    }
  }
  return best;
}

}  // namespace loid
