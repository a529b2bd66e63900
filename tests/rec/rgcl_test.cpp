// RGCL as a rating baseline: it learns (beats the global mean, its loss falls), repeats for a seed,
// never reads a held-out review's vector, predicts a training row without that row's own review,
// and refuses bad settings and bad vector tables clearly.
#include "rec/rgcl.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

#include "core/progress.h"
#include "eval/metrics.h"
#include "rec/word_docs.h"
#include "support/error_of.h"
#include "support/synth_dataset.h"

namespace loid {
namespace {

using testing::error_of;
using testing::ratings_of;
using testing::synth_dataset;
using testing::train_mean;

RgclOptions tiny() {
  Progress::set_quiet(true);
  RgclOptions o;
  o.threads = 1;
  o.dims = {8};
  o.weight_decays = {1e-4};
  o.max_epochs = 8;
  o.batch_size = 64;
  return o;
}

// Review vectors standing in for an encoder's: hashed bags of words (32 buckets, L2-normalised),
// for the training reviews only (held-out rows are `fill`).
torch::Tensor hashed_vectors(const Dataset& d, const Split& split, float fill = 0.0f) {
  constexpr std::int64_t kWidth = 32;
  torch::Tensor v = torch::full({d.num_reviews(), kWidth}, fill);
  for (std::int64_t r : split.train) {
    torch::Tensor row = torch::zeros({kWidth});
    for (const auto& w : word_tokens(d.review(r).text))
      row[static_cast<std::int64_t>(std::hash<std::string>()(w) % kWidth)] += 1.0f;
    v[r] = row / row.norm().clamp_min(1e-6);
  }
  return v;
}

TEST(Rgcl, BeatsTheGlobalMeanAndItsLossFalls) {
  const Dataset d = synth_dataset(120, 40, 3);
  const Split split = make_split(d, SplitOptions{});
  RgclOptions o = tiny();
  o.max_epochs = 15;
  const IdBaselineResult r = train_rgcl(d, split, hashed_vectors(d, split), o);
  ASSERT_EQ(r.test_predictions.size(), split.test.size());
  ASSERT_EQ(r.validation_predictions.size(), split.validation.size());
  const std::vector<float> truth = ratings_of(d, split.test);
  const double mean_mse =
      rating_metrics(std::vector<float>(truth.size(), train_mean(d, split.train)), truth).mse;
  const double mse = rating_metrics(r.test_predictions, truth).mse;
  std::printf("rgcl: test MSE %.4f, global mean %.4f, best epoch %d\n", mse, mean_mse,
              r.fit.best_epoch);
  EXPECT_LT(mse, 0.9 * mean_mse);
  EXPECT_GE(r.fit.best_epoch, 1);
  ASSERT_GE(r.fit.epoch_losses.size(), 2u);
  EXPECT_LT(r.fit.epoch_losses[1], r.fit.epoch_losses[0]);
}

TEST(Rgcl, SameSeedSamePredictionsOtherSeedDiffers) {
  const Dataset d = synth_dataset(40, 15, 4);
  const Split split = make_split(d, SplitOptions{});
  const torch::Tensor v = hashed_vectors(d, split);
  RgclOptions o = tiny();
  o.max_epochs = 2;
  const IdBaselineResult a = train_rgcl(d, split, v, o);
  const IdBaselineResult b = train_rgcl(d, split, v, o);
  EXPECT_EQ(a.test_predictions, b.test_predictions);
  EXPECT_EQ(a.validation_predictions, b.validation_predictions);
  o.seed = 2;
  EXPECT_NE(a.test_predictions, train_rgcl(d, split, v, o).test_predictions);
}

// The held-out rows of the vector table are NaN: were one read, a prediction would be NaN (or
// would differ from the run with zeros there).
TEST(Rgcl, HeldOutReviewVectorsAreNeverRead) {
  const Dataset d = synth_dataset(40, 15, 5);
  const Split split = make_split(d, SplitOptions{});
  RgclOptions o = tiny();
  o.max_epochs = 2;
  const IdBaselineResult nan =
      train_rgcl(d, split, hashed_vectors(d, split, std::numeric_limits<float>::quiet_NaN()), o);
  const IdBaselineResult zero = train_rgcl(d, split, hashed_vectors(d, split, 0.0f), o);
  for (float p : nan.test_predictions) EXPECT_TRUE(std::isfinite(p));
  EXPECT_EQ(nan.test_predictions, zero.test_predictions);
  EXPECT_EQ(nan.validation_predictions, zero.validation_predictions);
}

// A training row's prediction does not move when its own review's vector changes; a held-out
// prediction of the same pair (its edge in the graph) does.
TEST(Rgcl, TrainingRowNeverReadsItsOwnReview) {
  const Dataset d = synth_dataset(40, 15, 6);
  const Split split = make_split(d, SplitOptions{});
  const RowTensors train = row_tensors(rating_rows(d, split.train));
  const torch::Tensor v = hashed_vectors(d, split).index_select(0, torch::tensor(split.train));
  torch::Tensor changed = v.clone();
  const std::int64_t self = 5;
  changed[self] = torch::randn({v.size(1)}) * 3.0;
  RgclOptions o = tiny();
  torch::manual_seed(1);
  RgclImpl a(train, v, d.num_users(), d.num_items(), 3.5f, 8, o);
  torch::manual_seed(1);
  RgclImpl b(train, changed, d.num_users(), d.num_items(), 3.5f, 8, o);
  {  // a non-zero rating head, so that the graph shows in the predictions
    torch::NoGradGuard no_grad;
    for (RgclImpl* m : {&a, &b}) {
      torch::manual_seed(2);
      for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.3);
    }
  }
  const torch::Tensor row = torch::tensor({self});
  EXPECT_NEAR(a.train_forward(row).first.item<float>(), b.train_forward(row).first.item<float>(),
              1e-6);
  const torch::Tensor u = train.users.index_select(0, row), i = train.items.index_select(0, row);
  EXPECT_GT(std::fabs(a.predict(u, i).item<float>() - b.predict(u, i).item<float>()), 1e-4);
}

TEST(Rgcl, BadSettingsAreUsageErrors) {
  const Dataset d = synth_dataset(20, 10, 9);
  const Split split = make_split(d, SplitOptions{});
  const torch::Tensor v = hashed_vectors(d, split);
  RgclOptions o = tiny();
  o.temperature = 0;
  EXPECT_NE(error_of<UsageError>([&] { train_rgcl(d, split, v, o); }).find("temperature"),
            std::string::npos);
  o = tiny();
  o.edge_dropout = 1.0;
  EXPECT_NE(error_of<UsageError>([&] { train_rgcl(d, split, v, o); }).find("dropout"),
            std::string::npos);
  o = tiny();
  const std::string e = error_of<UsageError>([&] { train_rgcl(d, split, v.narrow(0, 0, 10), o); });
  EXPECT_NE(e.find("one row per review"), std::string::npos) << e;
  EXPECT_NE(e.find("[10, 32]"), std::string::npos) << e;
}

}  // namespace
}  // namespace loid
