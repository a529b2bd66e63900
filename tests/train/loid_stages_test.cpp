// The stages of a LoID run one at a time: seeds derived in one place, the data stage's histories
// (leak-free shows only training reviews, paper-leaky also held-out ones), the encoder stage's
// seeded target adapter, and the model stage's fitted start.
#include "train/loid_stages.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "nn/lora_inject.h"
#include "rec/mf.h"
#include "support/tiny_run.h"

namespace loid {
namespace {

const std::string& corpus() {
  static const std::string path = testing::tiny_corpus("loid_stages_corpus", 40, 20, 5);
  return path;
}

const StageLog quiet = [](const std::string&) {};

TEST(LoidStages, SeedsDeriveFromTheRunSeedAndAreRecorded) {
  const RunSeeds a = run_seeds(3), b = run_seeds(4);
  EXPECT_EQ(a.run, 3u);
  EXPECT_EQ(a.model, 3u + 0x10);
  EXPECT_NE(a.epoch_torch(1), a.epoch_torch(2));
  EXPECT_NE(a.epoch_torch(1), b.epoch_torch(1));
  Rng r1 = a.epoch_rng(1), r1_again = a.epoch_rng(1), r2 = a.epoch_rng(2);
  const auto x = r1.next_u64();
  EXPECT_EQ(x, r1_again.next_u64());
  EXPECT_NE(x, r2.next_u64());
  const auto j = run_seeds_json(a);
  EXPECT_EQ(j.at("model"), a.model);
  EXPECT_EQ(j.at("contexts"), a.contexts);
}

TEST(LoidStages, DataStageShowsTrainingReviewsOnlyUnlessLeaky) {
  LoidTrainOptions o = testing::tiny_train_options(corpus(), "");
  const TargetData d = load_target_data(o, quiet);
  EXPECT_EQ(d.train.size(), d.domain.split.train.size());
  EXPECT_EQ(d.validation.size(), d.domain.split.validation.size());
  ASSERT_FALSE(d.visible.empty());
  for (std::int64_t r : d.visible)
    EXPECT_EQ(d.domain.split.part[static_cast<std::size_t>(r)], SplitPart::kTrain) << r;

  o.protocol = Protocol::kPaperLeaky;
  const TargetData leaky = load_target_data(o, quiet);
  std::int64_t held_out = 0;
  for (std::int64_t r : leaky.visible)
    held_out += leaky.domain.split.part[static_cast<std::size_t>(r)] != SplitPart::kTrain;
  EXPECT_GT(held_out, 0);

  // With a train fraction the unused reviews are in no history.
  o.protocol = Protocol::kLeakFree;
  o.split.train_fraction = 0.5;
  const TargetData half = load_target_data(o, quiet);
  EXPECT_LT(half.visible.size(), d.visible.size());
  const std::set<std::int64_t> kept(half.domain.split.train.begin(), half.domain.split.train.end());
  for (std::int64_t r : half.visible) EXPECT_TRUE(kept.count(r)) << r;
}

TEST(LoidStages, EncoderStageDrawsTheSameTargetAdapterForASeed) {
  const LoidTrainOptions o = testing::tiny_train_options(corpus(), "");
  auto a_of = [&](std::uint64_t seed) {
    torch::manual_seed(seed * 977);  // whatever the global generator holds before
    TargetEncoder t = load_target_encoder(o, run_seeds(seed));
    EXPECT_TRUE(t.has_target);
    for (auto& p : t.encoder->module().parameters()) EXPECT_FALSE(p.requires_grad());
    const auto layers = lora_layers(t.encoder->module());
    return layers.begin()->second->target_parameters()[0].clone();
  };
  EXPECT_TRUE(torch::equal(a_of(1), a_of(1)));
  EXPECT_FALSE(torch::equal(a_of(1), a_of(2)));
}

TEST(LoidStages, ModelStageStartsFromTheFittedBiases) {
  LoidTrainOptions o = testing::tiny_train_options(corpus(), "");
  o.id_biases = true;
  o.fit_id_biases = true;
  const TargetData d = load_target_data(o, quiet);
  const RunSeeds seeds = run_seeds(o.split.seed);
  const torch::Tensor vectors = torch::zeros({d.domain.dataset.num_reviews(), 16});
  LoidModel m = build_loid_model(o, d, vectors, seeds, /*fit_start=*/true, quiet);
  EXPECT_EQ(m->predictor_out->weight.abs().sum().item<float>(), 0.0f);
  EXPECT_FALSE(m->user_bias->weight.requires_grad());
  const RatingRows tr{d.train.user, d.train.item, d.train.rating};
  const RatingRows va{d.validation.user, d.validation.item, d.validation.rating};
  MfOptions base;
  base.seed = seeds.fitted_start;
  const BiasedMf b = select_mf(tr, va, d.domain.dataset.num_users(), d.domain.dataset.num_items(),
                               {0}, {0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0}, base);
  EXPECT_FLOAT_EQ(m->mean.item<float>(), b.mean());
  for (std::size_t u = 0; u < b.user_biases().size(); ++u)
    EXPECT_FLOAT_EQ(m->user_bias->weight[static_cast<std::int64_t>(u)][0].item<float>(),
                    b.user_biases()[u]);
  // Without a fit (resuming), the biases keep their initial zeros.
  LoidModel fresh = build_loid_model(o, d, vectors, seeds, /*fit_start=*/false, quiet);
  EXPECT_EQ(fresh->user_bias->weight.abs().sum().item<float>(), 0.0f);
}

}  // namespace
}  // namespace loid
