// Baselines on data with a known structure: additive biases are recovered by the biases-only model,
// a rank-2 interaction needs the factors, and training is deterministic by seed.
#include "rec/mf.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/rng.h"
#include "eval/metrics.h"

namespace loid {
namespace {

struct Toy {
  RatingRows train, validation;
  std::int64_t users = 60, items = 40;
};

// r = 3 + bu + bi (+ interaction when `rank2`), every pair observed with probability 0.5.
Toy make_toy(bool rank2) {
  Toy t;
  Rng rng(5);
  std::vector<double> bu(t.users), bi(t.items), pu(t.users), qi(t.items);
  for (auto& x : bu) x = rng.uniform() - 0.5;
  for (auto& x : bi) x = rng.uniform() - 0.5;
  for (auto& x : pu) x = rng.uniform() < 0.5 ? -1.0 : 1.0;
  for (auto& x : qi) x = rng.uniform() < 0.5 ? -0.8 : 0.8;
  for (std::int64_t u = 0; u < t.users; ++u) {
    for (std::int64_t i = 0; i < t.items; ++i) {
      if (rng.uniform() < 0.5) continue;
      const float r = static_cast<float>(3.0 + bu[u] + bi[i] + (rank2 ? pu[u] * qi[i] : 0.0));
      RatingRows& dst = rng.uniform() < 0.8 ? t.train : t.validation;
      dst.user.push_back(u);
      dst.item.push_back(i);
      dst.rating.push_back(r);
    }
  }
  return t;
}

double mse_of(const BiasedMf& m, const RatingRows& rows) {
  return rating_metrics(m.predict(rows), rows.rating).mse;
}

TEST(BiasedMf, BiasesOnlyRecoversAdditiveRatings) {
  Toy t = make_toy(false);
  MfOptions o;
  o.factors = 0;
  o.regularization = 0.0;
  o.learning_rate = 0.02;
  BiasedMf m;
  m.fit(t.train, t.validation, t.users, t.items, o);
  std::vector<float> mean(t.validation.size(), global_mean(t.train));
  const double mean_mse = rating_metrics(mean, t.validation.rating).mse;
  EXPECT_LT(mse_of(m, t.validation), 0.01 * mean_mse);
}

TEST(BiasedMf, FactorsCaptureInteraction) {
  Toy t = make_toy(true);
  MfOptions o;
  o.regularization = 0.01;
  o.learning_rate = 0.02;
  o.factors = 0;
  BiasedMf biases;
  biases.fit(t.train, t.validation, t.users, t.items, o);
  o.factors = 4;
  BiasedMf mf;
  mf.fit(t.train, t.validation, t.users, t.items, o);
  EXPECT_LT(mse_of(mf, t.validation), 0.5 * mse_of(biases, t.validation));
}

TEST(BiasedMf, DeterministicAndSelectsOnValidation) {
  Toy t = make_toy(true);
  MfOptions chosen;
  BiasedMf a = select_mf(t.train, t.validation, t.users, t.items, {0, 4}, {0.01, 0.5}, {}, &chosen);
  BiasedMf b = select_mf(t.train, t.validation, t.users, t.items, {0, 4}, {0.01, 0.5}, {});
  EXPECT_EQ(a.predict(t.validation), b.predict(t.validation));
  EXPECT_EQ(chosen.factors, 4);
  EXPECT_DOUBLE_EQ(chosen.regularization, 0.01);
}

TEST(BiasedMf, ColdIdsFallBackToTrainedTerms) {
  Toy t = make_toy(false);
  BiasedMf m;
  m.fit(t.train, t.validation, t.users + 1, t.items, {});
  // user t.users has no training row: the prediction is mu + b_i (clamped to [1, 5])
  EXPECT_FLOAT_EQ(m.predict(t.users, 0), std::clamp(m.mean() + m.item_biases()[0], 1.0f, 5.0f));
  EXPECT_NE(m.item_biases()[0], 0.0f);  // so the item's term is really part of what is checked
  EXPECT_FLOAT_EQ(m.predict(-1, -1), std::clamp(global_mean(t.train), 1.0f, 5.0f));
}

}  // namespace
}  // namespace loid
