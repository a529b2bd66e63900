// The demo pipeline end to end on a small synthetic corpus: no leak, the corpus is the one where
// ratings hide in taste x aspect quality, and the LoID stages (and MF + text factors) run into run
// directories that `loid eval` can load (tiny random BERT here; the real encoder in `loid demo`).
#include "train/demo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/progress.h"
#include "support/test_paths.h"
#include "train/run.h"

namespace loid {
namespace {

DemoOptions small(const std::string& name) {
  Progress::set_quiet(true);
  DemoOptions o;
  o.out = testing::temp_dir(name);
  o.synth_users = 60;
  o.synth_items = 30;
  o.encoder_dir = testing::golden("bert/tiny");
  o.pretrain_steps = 3;
  o.relora_steps = 2;
  o.loid_epochs = 2;
  o.threads = 1;
  o.progress = false;
  o.lora_rank = 4;
  o.heads = 2;
  o.hidden = 16;
  return o;
}

TEST(Demo, SyntheticPipelineRunsWithoutLeaks) {
  DemoOptions o = small("demo_synth");
  o.loid = false;
  o.synth_users = 120;
  o.synth_items = 60;
  std::ostringstream log;
  const DemoResult r = run_demo(o, log);
  EXPECT_GT(r.target_reviews, 500);
  // run_demo throws when a history reaches a held-out review: getting here is the leak check.
  // The demo's corpus puts the rating in taste x aspect quality, which rating averages do not see
  // (weak biases, centred qualities): the biases barely beat the global mean (the original corpus,
  // with strong biases, had them far ahead).
  EXPECT_NEAR(r.bias_test_mse, r.mean_test_mse, 0.1);
  EXPECT_TRUE(std::isnan(r.loid_test_mse));
  EXPECT_TRUE(std::filesystem::exists(o.out + "/split.tsv"));
  EXPECT_NE(log.str().find("biased MF"), std::string::npos);
}

TEST(Demo, FullTableWithLoidRows) {
  DemoOptions o = small("demo_full");
  std::ostringstream log;
  const DemoResult r = run_demo(o, log);
  EXPECT_NE(log.str().find("LoID + source plugin"), std::string::npos);
  // The table names LoID's encoder (here the tiny BERT given) and says where to see why.
  EXPECT_NE(log.str().find("LoID's encoder: " + o.encoder_dir), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("open http://127.0.0.1:8080/"), std::string::npos);
  // Each row's figure is its saved run's, evaluated again.
  const LoadedRun plain(o.out + "/run_no_plugin");
  EXPECT_NEAR(plain.evaluate_test()["mse"].get<double>(), r.loid_test_mse, 1e-6);
  EXPECT_TRUE(plain.config()["settings"]["plugins"]["dirs"].empty());
  const LoadedRun run(r.run_dir);
  EXPECT_NEAR(run.evaluate_test()["mse"].get<double>(), r.loid_plugin_test_mse, 1e-6);
  EXPECT_EQ(run.config()["settings"]["plugins"]["dirs"].size(), 1u);
  // The MF + text factors row is its own run, on the plugin run's text stage.
  EXPECT_NE(log.str().find("LoID, MF + text factors"), std::string::npos);
  const LoadedRun mf(r.mf_run_dir);
  EXPECT_NEAR(mf.evaluate_test()["mse"].get<double>(), r.loid_mf_test_mse, 1e-6);
  EXPECT_EQ(mf.config()["settings"]["model"]["predictor"], "mf+text");
}

TEST(Demo, SameSeedSameNumbers) {
  DemoOptions o = small("demo_seed_a");
  std::ostringstream log;
  const DemoResult a = run_demo(o, log);
  o.out = testing::temp_dir("demo_seed_b");
  const DemoResult b = run_demo(o, log);
  EXPECT_EQ(a.mf_test_mse, b.mf_test_mse);
  EXPECT_EQ(a.mean_test_mse, b.mean_test_mse);
  EXPECT_NEAR(a.loid_plugin_test_mse, b.loid_plugin_test_mse, 1e-6);
}

}  // namespace
}  // namespace loid
