// loid bench --train-fractions: one ordinary bench per fraction on the kept training reviews, and
// the curve files gathering them.
#include "train/bench_curve.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "core/fs.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/reader.h"
#include "data/split.h"
#include "support/error_of.h"
#include "support/test_paths.h"
#include "support/tiny_run.h"

namespace loid {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

BenchOptions classical(const std::string& data, const std::string& out) {
  Progress::set_quiet(true);
  BenchOptions o;
  o.data = data;
  o.out = out;
  o.models = {"mean", "mf"};
  o.seeds = {1, 2};
  o.mf_factors = {2};
  o.mf_regularization = {0.1};
  o.progress = false;
  return o;
}

// The global-mean model's test MSE on a split keeping `fraction` of the training reviews,
// computed here from the split alone.
double mean_model_mse(const Dataset& dataset, std::uint64_t seed, double fraction) {
  SplitOptions so;
  so.seed = seed;
  so.train_fraction = fraction;
  const Split split = make_split(dataset, so);
  double mu = 0.0;
  for (auto id : split.train) mu += dataset.review(id).rating;
  mu /= static_cast<double>(split.train.size());
  double sse = 0.0;
  for (auto id : split.test) {
    const double e = dataset.review(id).rating - static_cast<float>(mu);
    sse += e * e;
  }
  return sse / static_cast<double>(split.test.size());
}

TEST(BenchCurve, EachFractionIsABenchOnTheKeptReviews) {
  const std::string data = testing::tiny_corpus("curve_a", 80, 40, 3);
  const std::string out = testing::temp_dir("curve_a_out");
  std::ostringstream log;
  const json curve = run_bench_curve(classical(data, out), {0.3, 1.0}, log);
  for (const char* f : {"curve.json", "curve.md", "curve.svg", "fraction_0.3/results.json",
                        "fraction_1/results.json"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  EXPECT_EQ(json::parse(read_file(out + "/curve.json")), curve);
  ASSERT_EQ(curve["points"].size(), 2u);
  EXPECT_EQ(curve["points"][0]["train_fraction"], 0.3);
  EXPECT_EQ(curve["points"][1]["train_fraction"], 1.0);

  const Dataset dataset(read_reviews(data).reviews);
  for (std::size_t p = 0; p < 2; ++p) {
    const double fraction = curve["points"][p]["train_fraction"].get<double>();
    const json& mean = curve["points"][p]["models"][0];
    ASSERT_EQ(mean["model"], "mean");
    const double want =
        (mean_model_mse(dataset, 1, fraction) + mean_model_mse(dataset, 2, fraction)) / 2;
    EXPECT_NEAR(mean["test_mse"]["mean"].get<double>(), want, 1e-5) << fraction;
  }
  EXPECT_NE(curve["points"][0]["models"][0]["test_mse"]["mean"],
            curve["points"][1]["models"][0]["test_mse"]["mean"]);
  const std::string md = read_file(out + "/curve.md");
  EXPECT_NE(md.find("ΔMSE vs mf"), std::string::npos);
  EXPECT_NE(md.find("users < 3"), std::string::npos);
  EXPECT_NE(read_file(out + "/curve.svg").find("<svg"), std::string::npos);

  // A second call finds every cell finished and recomputes nothing.
  std::ostringstream again;
  EXPECT_EQ(run_bench_curve(classical(data, out), {0.3, 1.0}, again), curve);
  EXPECT_EQ(again.str().find("training\n"), std::string::npos) << again.str();
}

TEST(BenchCurve, RefusesBadFractions) {
  const BenchOptions o = classical("unused.json", testing::temp_dir("curve_bad"));
  std::ostringstream log;
  for (const std::vector<double>& f :
       std::vector<std::vector<double>>{{}, {0.0}, {1.5}, {0.5, 0.5}})
    EXPECT_FALSE(testing::error_of<UsageError>([&] { run_bench_curve(o, f, log); }).empty());
  BenchOptions both = o;
  both.split.train_fraction = 0.5;
  EXPECT_NE(
      testing::error_of<UsageError>([&] { run_bench_curve(both, {0.5}, log); }).find("not both"),
      std::string::npos);
}

}  // namespace
}  // namespace loid
