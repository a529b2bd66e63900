// BiGI as a rating baseline: it learns (beats the global mean, its loss falls), repeats for a
// seed, predicts a training row from the graph without that row's edge, never puts a held-out edge
// in its graph, and refuses bad settings clearly.
#include "rec/bigi.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/progress.h"
#include "eval/metrics.h"
#include "support/error_of.h"
#include "support/synth_dataset.h"

namespace loid {
namespace {

using testing::error_of;
using testing::ratings_of;
using testing::synth_dataset;
using testing::train_mean;

BigiOptions tiny() {
  Progress::set_quiet(true);
  BigiOptions o;
  o.threads = 1;
  o.dims = {8};
  o.weight_decays = {1e-4};
  o.max_epochs = 8;
  o.batch_size = 64;
  return o;
}

TEST(Bigi, BeatsTheGlobalMeanAndItsLossFalls) {
  const Dataset d = synth_dataset(120, 40, 3);
  const Split split = make_split(d, SplitOptions{});
  BigiOptions o = tiny();
  o.max_epochs = 15;
  const IdBaselineResult r = train_bigi(d, split, o);
  ASSERT_EQ(r.test_predictions.size(), split.test.size());
  ASSERT_EQ(r.validation_predictions.size(), split.validation.size());
  const std::vector<float> truth = ratings_of(d, split.test);
  const float mean = train_mean(d, split.train);
  const double mean_mse = rating_metrics(std::vector<float>(truth.size(), mean), truth).mse;
  const double mse = rating_metrics(r.test_predictions, truth).mse;
  std::printf("bigi: test MSE %.4f, global mean %.4f, best epoch %d\n", mse, mean_mse,
              r.fit.best_epoch);
  EXPECT_LT(mse, 0.9 * mean_mse);
  EXPECT_GE(r.fit.best_epoch, 1);
  ASSERT_GE(r.fit.epoch_losses.size(), 2u);
  EXPECT_LT(r.fit.epoch_losses[1], r.fit.epoch_losses[0]);
  EXPECT_LT(r.fit.epoch_losses.back(), r.fit.epoch_losses.front());
}

TEST(Bigi, SameSeedSamePredictionsOtherSeedDiffers) {
  const Dataset d = synth_dataset(40, 15, 4);
  const Split split = make_split(d, SplitOptions{});
  BigiOptions o = tiny();
  o.max_epochs = 2;
  const IdBaselineResult a = train_bigi(d, split, o);
  const IdBaselineResult b = train_bigi(d, split, o);
  EXPECT_EQ(a.test_predictions, b.test_predictions);
  EXPECT_EQ(a.validation_predictions, b.validation_predictions);
  o.seed = 2;
  EXPECT_NE(a.test_predictions, train_bigi(d, split, o).test_predictions);
}

// A training row is predicted exactly as the same model predicts that pair when its edge was never
// in the graph: the row's own edge does not reach its prediction.
TEST(Bigi, TrainingRowIsPredictedWithoutItsOwnEdge) {
  const Dataset d = synth_dataset(40, 15, 5);
  const Split split = make_split(d, SplitOptions{});
  const RatingRows rows = rating_rows(d, split.train);
  RatingRows without = rows;
  const std::size_t self = 7;
  without.user.erase(without.user.begin() + 7);
  without.item.erase(without.item.begin() + 7);
  without.rating.erase(without.rating.begin() + 7);
  BigiOptions o = tiny();
  torch::manual_seed(1);
  BigiImpl full(row_tensors(rows), d.num_users(), d.num_items(), 3.5f, 8, o);
  torch::manual_seed(1);
  BigiImpl less(row_tensors(without), d.num_users(), d.num_items(), 3.5f, 8, o);
  {  // a non-zero rating head, so that the graph shows in the predictions
    torch::NoGradGuard no_grad;
    for (BigiImpl* m : {&full, &less}) {
      torch::manual_seed(2);
      for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.3);
    }
  }
  const torch::Tensor self_row = torch::tensor({static_cast<std::int64_t>(self)});
  const torch::Tensor trained = full.train_forward(self_row).first;
  const torch::Tensor held_out =
      less.predict(torch::tensor({rows.user[self]}), torch::tensor({rows.item[self]}));
  EXPECT_NEAR(trained.item<float>(), held_out.item<float>(), 1e-5);
  // Control: with its edge in the graph the same pair is predicted differently.
  const torch::Tensor with_edge =
      full.predict(torch::tensor({rows.user[self]}), torch::tensor({rows.item[self]}));
  EXPECT_GT(std::fabs(with_edge.item<float>() - held_out.item<float>()), 1e-4);
}

// Held-out reviews add no edge: more test reviews between the same users and items leave every
// prediction of the original rows unchanged.
TEST(Bigi, HeldOutEdgesNeverEnterTheGraph) {
  const Dataset base = synth_dataset(40, 15, 6);
  const Split split = make_split(base, SplitOptions{});
  std::vector<Review> reviews = base.reviews();
  Split more = split;
  for (std::size_t k = 0; k < 30; ++k) {
    Review r = reviews[k];
    r.item = reviews[(k * 7 + 3) % reviews.size()].item;  // a new pair of known user and item
    r.rating = 1.0f;
    reviews.push_back(r);
    more.part.push_back(SplitPart::kTest);
    more.test.push_back(static_cast<std::int64_t>(reviews.size() - 1));
    more.cold_user.push_back(0);
    more.cold_item.push_back(0);
  }
  const Dataset d(reviews);
  ASSERT_EQ(d.num_users(), base.num_users());
  ASSERT_EQ(d.num_items(), base.num_items());
  BigiOptions o = tiny();
  o.max_epochs = 2;
  const IdBaselineResult a = train_bigi(base, split, o);
  const IdBaselineResult b = train_bigi(d, more, o);
  EXPECT_EQ(a.validation_predictions, b.validation_predictions);
  ASSERT_EQ(b.test_predictions.size(), a.test_predictions.size() + 30);
  for (std::size_t k = 0; k < a.test_predictions.size(); ++k)
    EXPECT_EQ(a.test_predictions[k], b.test_predictions[k]) << "test row " << k;
}

TEST(Bigi, BadSettingsAreUsageErrors) {
  const Dataset d = synth_dataset(20, 10, 9);
  const Split split = make_split(d, SplitOptions{});
  BigiOptions o = tiny();
  o.layers = 0;
  EXPECT_NE(error_of<UsageError>([&] { train_bigi(d, split, o); }).find("layers"),
            std::string::npos);
  o = tiny();
  o.weight_decays = {};
  EXPECT_NE(error_of<UsageError>([&] { train_bigi(d, split, o); }).find("grid"), std::string::npos);
  o = tiny();
  o.dims = {0};
  EXPECT_NE(error_of<UsageError>([&] { train_bigi(d, split, o); }).find("sizes"),
            std::string::npos);
  o = tiny();
  o.learning_rate = -1;
  EXPECT_NE(error_of<UsageError>([&] { train_bigi(d, split, o); }).find("learning rate"),
            std::string::npos);
}

}  // namespace
}  // namespace loid
