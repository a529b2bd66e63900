// The demo pipeline end to end on a small synthetic corpus: no leak, and the baselines learn
// something (the corpus has user and item effects by construction).
#include "train/demo.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "support/test_paths.h"

namespace loid {
namespace {

TEST(Demo, SyntheticPipelineRunsWithoutLeaks) {
  DemoOptions o;
  o.out = testing::temp_dir("demo_synth");
  o.synth_users = 120;
  o.synth_items = 60;
  std::ostringstream log;
  const DemoResult r = run_demo(o, log);
  EXPECT_GT(r.target_reviews, 500);
  EXPECT_EQ(r.leaks_found, 0);
  EXPECT_LT(r.bias_test_mse, r.mean_test_mse);
  EXPECT_TRUE(std::filesystem::exists(o.out + "/split.tsv"));
  EXPECT_NE(log.str().find("biased MF"), std::string::npos);
}

TEST(Demo, SameSeedSameNumbers) {
  DemoOptions o;
  o.synth_users = 60;
  o.synth_items = 30;
  std::ostringstream log;
  o.out = testing::temp_dir("demo_seed_a");
  const DemoResult a = run_demo(o, log);
  o.out = testing::temp_dir("demo_seed_b");
  const DemoResult b = run_demo(o, log);
  EXPECT_EQ(a.mf_test_mse, b.mf_test_mse);
  EXPECT_EQ(a.mean_test_mse, b.mean_test_mse);
}

}  // namespace
}  // namespace loid
