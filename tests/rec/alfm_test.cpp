// ALFM as a rating baseline: it learns (beats the global mean, its loss falls), repeats for a seed,
// its topic model never sees held-out text, a training row's aspect importance leaves its own
// review out, and bad settings are clear errors.
#include "rec/alfm.h"

#include <gtest/gtest.h>

#include <algorithm>
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

AlfmOptions tiny() {
  Progress::set_quiet(true);
  AlfmOptions o;
  o.threads = 1;
  o.dims = {8};
  o.regularizations = {0.05};
  o.topic_iterations = 10;
  o.max_epochs = 10;
  o.batch_size = 64;
  o.learning_rate = 1e-2;
  return o;
}

TEST(Alfm, BeatsTheGlobalMeanAndItsLossFalls) {
  const Dataset d = synth_dataset(120, 40, 3);
  const Split split = make_split(d, SplitOptions{});
  AlfmOptions o = tiny();
  o.max_epochs = 20;
  const IdBaselineResult r = train_alfm(d, split, o);
  ASSERT_EQ(r.test_predictions.size(), split.test.size());
  ASSERT_EQ(r.validation_predictions.size(), split.validation.size());
  const std::vector<float> truth = ratings_of(d, split.test);
  const double mean_mse =
      rating_metrics(std::vector<float>(truth.size(), train_mean(d, split.train)), truth).mse;
  const double mse = rating_metrics(r.test_predictions, truth).mse;
  std::printf("alfm: test MSE %.4f, global mean %.4f, best epoch %d\n", mse, mean_mse,
              r.fit.best_epoch);
  EXPECT_LT(mse, 0.9 * mean_mse);
  EXPECT_GE(r.fit.best_epoch, 1);
  ASSERT_GE(r.fit.epoch_losses.size(), 2u);
  EXPECT_LT(r.fit.epoch_losses[1], r.fit.epoch_losses[0]);
}

TEST(Alfm, SameSeedSamePredictionsOtherSeedDiffers) {
  const Dataset d = synth_dataset(40, 15, 4);
  const Split split = make_split(d, SplitOptions{});
  AlfmOptions o = tiny();
  o.max_epochs = 2;
  const IdBaselineResult a = train_alfm(d, split, o);
  const IdBaselineResult b = train_alfm(d, split, o);
  EXPECT_EQ(a.test_predictions, b.test_predictions);
  EXPECT_EQ(a.validation_predictions, b.validation_predictions);
  o.seed = 2;
  EXPECT_NE(a.test_predictions, train_alfm(d, split, o).test_predictions);
}

// Held-out reviews carry a marker word no training review has: it never enters the topic model's
// vocabulary, and held-out reviews get no topic counts.
TEST(Alfm, HeldOutTextNeverEntersTheTopicModel) {
  const Dataset base = synth_dataset(40, 15, 6);
  const Split split = make_split(base, SplitOptions{});
  std::vector<Review> reviews = base.reviews();
  for (std::size_t r = 0; r < reviews.size(); ++r)
    if (split.part[r] != SplitPart::kTrain) reviews[r].text += " zqxheldout zqxheldout";
  reviews[static_cast<std::size_t>(split.train[0])].text += " zqxtrainonly";
  const Dataset d(reviews);
  AlfmOptions o = tiny();
  o.min_count = 1;
  o.max_doc_fraction = 1.0;  // every training word is in the vocabulary
  const AspectTopics t = fit_aspect_topics(d, split, o);
  const auto has = [&](const std::string& w) {
    return std::find(t.words.begin(), t.words.end(), w) != t.words.end();
  };
  EXPECT_FALSE(has("zqxheldout"));
  EXPECT_TRUE(has("zqxtrainonly"));  // control: a training-only word does get in
  for (std::int64_t r : split.test) EXPECT_TRUE(t.counts[static_cast<std::size_t>(r)].empty());
  for (std::int64_t r : split.train) EXPECT_EQ(t.counts[static_cast<std::size_t>(r)].size(), 5u);
}

// A training row's aspect importance is its user's (item's) other training reviews' topic counts,
// smoothed; a held-out row of the same user reads all of them.
TEST(Alfm, TrainingRowNeverReadsItsOwnReview) {
  const Dataset d = synth_dataset(40, 15, 7);
  const Split split = make_split(d, SplitOptions{});
  AlfmOptions o = tiny();
  const AspectTopics t = fit_aspect_topics(d, split, o);
  const auto expected = [&](std::int64_t self, bool by_user) {
    std::vector<double> sums(5, o.alpha);
    for (std::int64_t r : split.train) {
      if (r == self) continue;
      const bool same = by_user ? d.user_of(r) == d.user_of(self) : d.item_of(r) == d.item_of(self);
      if (!same) continue;
      for (int a = 0; a < 5; ++a)
        sums[static_cast<std::size_t>(a)] +=
            t.counts[static_cast<std::size_t>(r)][static_cast<std::size_t>(a)];
    }
    double total = 0.0;
    for (double s : sums) total += s;
    for (double& s : sums) s /= total;
    return sums;
  };
  std::vector<std::int64_t> ids(split.train.begin(), split.train.begin() + 20);
  ids.insert(ids.end(), split.test.begin(), split.test.begin() + 5);
  const torch::Tensor u = user_aspects(d, split, t, ids, o.alpha);
  const torch::Tensor i = item_aspects(d, split, t, ids, o.alpha);
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const auto eu = expected(ids[k], true), ei = expected(ids[k], false);
    for (int a = 0; a < 5; ++a) {
      EXPECT_NEAR(u[static_cast<std::int64_t>(k)][a].item<float>(), eu[static_cast<std::size_t>(a)],
                  1e-5)
          << "review " << ids[k];
      EXPECT_NEAR(i[static_cast<std::int64_t>(k)][a].item<float>(), ei[static_cast<std::size_t>(a)],
                  1e-5)
          << "review " << ids[k];
    }
  }
}

TEST(Alfm, BadSettingsAreUsageErrors) {
  const Dataset d = synth_dataset(20, 10, 9);
  const Split split = make_split(d, SplitOptions{});
  AlfmOptions o = tiny();
  o.aspects = 0;
  EXPECT_NE(error_of<UsageError>([&] { train_alfm(d, split, o); }).find("aspects"),
            std::string::npos);
  o = tiny();
  o.regularizations = {-1.0};
  EXPECT_NE(error_of<UsageError>([&] { train_alfm(d, split, o); }).find("regularisation"),
            std::string::npos);
  o = tiny();
  o.dims = {};
  EXPECT_NE(error_of<UsageError>([&] { train_alfm(d, split, o); }).find("grid"), std::string::npos);
}

}  // namespace
}  // namespace loid
