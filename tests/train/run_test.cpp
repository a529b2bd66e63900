// A finished run loaded for inference: the saved model reproduces the run's test metrics, predicts
// for unknown ids and for a user given only by review texts, ranks unrated items, and refuses a
// data file that changed since training.
#include "train/run.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/fs.h"
#include "core/progress.h"
#include "data/synth.h"
#include "support/error_of.h"
#include "support/test_paths.h"
#include "support/tiny_run.h"
#include "train/loid_train.h"

namespace loid {
namespace {

// One tiny run (random tiny BERT), trained once per process.
const std::string& tiny_run() {
  static const std::string dir = testing::make_tiny_run("run_test", 30, 15, 5);
  return dir;
}

TEST(Run, SavedModelReproducesTestMetrics) {
  const LoadedRun r(tiny_run());
  const auto m = r.evaluate_test();
  EXPECT_EQ(m["n"], r.metrics()["test"]["n"]);
  EXPECT_NEAR(m["mse"].get<double>(), r.metrics()["test"]["mse"].get<double>(), 1e-6);
  EXPECT_FALSE(r.leaky());
}

TEST(Run, PredictsKnownAndUnknownIdsConsistently) {
  LoadedRun r(tiny_run());
  const std::int64_t users = r.dataset().num_users(), items = r.dataset().num_items();
  // Every unknown id, negative or past the end, shares the one "unknown" row.
  const auto p = r.predict({0, -1, users + 7, 0, 0}, {0, 0, 0, -1, items + 3});
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[1], p[2]);
  EXPECT_EQ(p[3], p[4]);
  // Known pairs: the serving tables give the model's own prediction.
  EXPECT_NEAR(r.predict_precomputed({0}, {0})[0], p[0], 1e-5);
  // A new user given by review texts: the attention pools them, so their order does not matter.
  const auto t = r.predict_for_texts({"great sound", "love it"}, {0, 1});
  ASSERT_EQ(t.size(), 2u);
  const auto swapped = r.predict_for_texts({"love it", "great sound"}, {0, 1});
  EXPECT_NEAR(swapped[0], t[0], 1e-5);
  EXPECT_NEAR(swapped[1], t[1], 1e-5);
  EXPECT_NE(testing::error_of<UsageError>([&] { r.predict_for_texts({}, {0}); }).find("review"),
            std::string::npos);
}

TEST(Run, RecommendsUnratedItemsBestFirst) {
  const LoadedRun r(tiny_run());
  const auto recs = r.recommend(0, 1000, true);
  std::set<std::int64_t> rated;
  for (std::int64_t id : r.split().train)
    if (r.dataset().user_of(id) == 0) rated.insert(r.dataset().item_of(id));
  EXPECT_EQ(recs.size(), static_cast<std::size_t>(r.dataset().num_items()) - rated.size());
  for (std::size_t j = 0; j < recs.size(); ++j) {
    EXPECT_EQ(rated.count(recs[j].first), 0u);
    if (j > 0) EXPECT_GE(recs[j - 1].second, recs[j].second);
  }
  EXPECT_EQ(r.recommend(0, 3, false).size(), 3u);
  EXPECT_THROW(r.recommend(-1, 3, true), UsageError);
}

TEST(Run, ChangedDataFileIsRefused) {
  const std::string copy = testing::temp_dir("run_test_changed") + "/run";
  std::filesystem::copy(tiny_run(), copy, std::filesystem::copy_options::recursive);
  auto config = nlohmann::json::parse(read_file(copy + "/config.json"));
  config["data_fingerprint"]["crc32"] =
      config["data_fingerprint"]["crc32"].get<std::uint32_t>() ^ 1u;
  write_file_atomic(copy + "/config.json", config.dump());
  EXPECT_NE(testing::error_of<InputError>([&] { LoadedRun r(copy); }).find("changed"),
            std::string::npos);
  std::filesystem::remove(copy + "/metrics.json");
  EXPECT_NE(testing::error_of<InputError>([&] { LoadedRun r(copy); }).find("finished"),
            std::string::npos);
}

TEST(Run, PrecomputedPathEqualsPredictWithUnknownIdsMixedIn) {
  const LoadedRun r(tiny_run());
  std::vector<std::int64_t> u, i;
  for (std::int64_t id : r.split().test) {
    u.push_back(r.dataset().user_of(id));
    i.push_back(r.dataset().item_of(id));
  }
  ASSERT_GT(u.size(), 10u);
  // Unknown ids (cold path) between known pairs, on either side or both.
  const std::int64_t nu = r.dataset().num_users(), ni = r.dataset().num_items();
  const std::vector<std::pair<std::int64_t, std::int64_t>> unknown = {
      {-1, 0}, {0, -1}, {nu, 1}, {2, ni + 3}, {-1, -1}};
  for (std::size_t j = 0; j < unknown.size(); ++j) {
    const auto at = static_cast<std::ptrdiff_t>(j * 3 + 1);
    u.insert(u.begin() + at, unknown[j].first);
    i.insert(i.begin() + at, unknown[j].second);
  }
  const auto expected = r.predict(u, i);
  const auto got = r.predict_precomputed(u, i);
  ASSERT_EQ(got.size(), expected.size());
  float worst = 0, lo = 5, hi = 1;
  for (std::size_t j = 0; j < got.size(); ++j) {
    worst = std::max(worst, std::abs(got[j] - expected[j]));
    lo = std::min(lo, got[j]);
    hi = std::max(hi, got[j]);
  }
  EXPECT_LE(worst, 1e-5f);
  EXPECT_GT(hi - lo, 1e-3f);  // not one constant, so the comparison can fail
  // Every item for one user (what recommend scores).
  std::vector<std::int64_t> items(static_cast<std::size_t>(ni)), users(items.size(), 3);
  for (std::int64_t j = 0; j < ni; ++j) items[static_cast<std::size_t>(j)] = j;
  const auto a = r.predict(users, items), b = r.predict_precomputed(users, items);
  for (std::size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-5) << "item " << j;
  EXPECT_THROW(r.predict_precomputed({0, 1}, {0}), UsageError);
}

TEST(Run, RecommendScoresAlikeBeforeAndAfterTheTablesAreBuilt) {
  const LoadedRun r(tiny_run());
  const auto before = r.recommend(1, 1000, false);  // predict()'s path
  r.precomputed();
  const auto after = r.recommend(1, 1000, false);  // the serving path
  ASSERT_EQ(before.size(), static_cast<std::size_t>(r.dataset().num_items()));
  ASSERT_EQ(after.size(), before.size());
  std::map<std::int64_t, float> score;
  for (const auto& [item, s] : before) score[item] = s;
  for (const auto& [item, s] : after) EXPECT_NEAR(s, score.at(item), 1e-5) << "item " << item;
}

}  // namespace
}  // namespace loid
