// DataStats: percentiles and token counts against hand computations, the printed and JSON forms on
// a fixture, and the real Musical Instruments figures from real_data_figures.py (Python).
#include "data/stats.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"
#include "support/test_paths.h"

#include <sys/wait.h>

namespace loid {
namespace {

using loid::testing::fixture;

class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override { Progress::set_quiet(true); }
};

TEST_F(StatsTest, NearestRankPercentile) {
  const std::vector<std::int64_t> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(percentile(v, 50), 5);  // ceil(0.5 * 10) = 5th value
  EXPECT_EQ(percentile(v, 90), 9);
  EXPECT_EQ(percentile(v, 99), 10);  // ceil(9.9) = 10th
  EXPECT_EQ(percentile(v, 100), 10);
  EXPECT_EQ(percentile({7}, 50), 7);
  EXPECT_EQ(percentile({}, 50), 0);
  EXPECT_EQ(percentile({10, 20, 30}, 50), 20);  // ceil(1.5) = 2nd
}

TEST_F(StatsTest, TokensAreRunsOfNonWhitespace) {
  EXPECT_EQ(count_tokens(""), 0);
  EXPECT_EQ(count_tokens("   "), 0);
  EXPECT_EQ(count_tokens("one"), 1);
  EXPECT_EQ(count_tokens("  two\twords\n"), 2);
  EXPECT_EQ(count_tokens("caf\u00e9 \u2014 ok"), 3);
}

TEST_F(StatsTest, FixtureFigures) {
  ReadOptions o;
  const DataStats s = compute_stats(read_reviews(fixture("reviews/bad_lines.json"), o));
  EXPECT_EQ(s.format, "json");
  EXPECT_EQ(s.lines, 17);
  EXPECT_EQ(s.records, 5);
  // Kept lines 1, 10, 11, 12, 16: users U1, U3, U3, U3, 12345; items all distinct.
  EXPECT_EQ(s.users, 3);
  EXPECT_EQ(s.items, 5);
  EXPECT_EQ(s.ratings.at(5.0f), 2);
  EXPECT_EQ(s.ratings.at(4.0f), 1);
  EXPECT_EQ(s.ratings.at(3.0f), 1);
  EXPECT_EQ(s.ratings.at(2.0f), 1);
  EXPECT_DOUBLE_EQ(s.rating_mean, 19.0 / 5.0);
  EXPECT_EQ(s.per_user.min, 1);
  EXPECT_EQ(s.per_user.median, 1);  // counts {1, 1, 3}
  EXPECT_EQ(s.per_user.max, 3);
  // Texts: "s ok"(4) "string rating"(13) "int rating"(10) "string float"(12) "numeric user id"(15)
  EXPECT_EQ(s.chars.p50, 12);
  EXPECT_EQ(s.chars.max, 15);
  EXPECT_DOUBLE_EQ(s.chars.mean, 54.0 / 5.0);
  EXPECT_EQ(s.tokens.p50, 2);
  EXPECT_EQ(s.tokens.max, 3);
  EXPECT_EQ(s.skipped_total, 12);
  EXPECT_EQ(s.skipped.at("malformed line").count, 3);

  const std::string text = format_stats(s);
  EXPECT_NE(text.find("  records         5 kept, 12 lines skipped, 0 duplicates dropped\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    malformed line: 3 (lines 2, 13, 17)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    missing item: 1 (line 5)\n"), std::string::npos) << text;

  const auto j = stats_to_json(s);
  EXPECT_EQ(j["records"], 5);
  EXPECT_EQ(j["ratings"]["5"], 2);
  EXPECT_EQ(j["skipped"]["rating out of range"]["first_lines"], nlohmann::ordered_json({8, 9}));
  EXPECT_EQ(j["text_chars"]["max"], 15);
}

TEST_F(StatsTest, RunDataStatsTextAndJson) {
  StatsOptions o;
  o.files = {fixture("reviews/amazon2014_sample.json"), fixture("reviews/reviews.tsv")};
  std::ostringstream text;
  run_data_stats(o, text);
  EXPECT_NE(text.str().find("amazon2014_sample.json (json)\n"), std::string::npos);
  EXPECT_NE(text.str().find("reviews.tsv (tsv)\n"), std::string::npos);
  o.json = true;
  std::ostringstream js;
  run_data_stats(o, js);
  const auto j = nlohmann::json::parse(js.str());
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["records"], 3);
  EXPECT_EQ(j[1]["records"], 4);
  o.files = {fixture("reviews/amazon2014_sample.json")};
  std::ostringstream one;
  run_data_stats(o, one);
  EXPECT_TRUE(nlohmann::json::parse(one.str()).is_object());
  o.files.clear();
  EXPECT_THROW(run_data_stats(o, one), UsageError);
}

// Runs the loid executable with `args`; returns stdout+stderr and sets the exit status.
std::string run_cli(const std::string& args, int* status) {
  const std::string cmd = loid::testing::cli_path() + " " + args + " 2>&1";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int raw = pclose(pipe);
  *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

TEST_F(StatsTest, CliDataStats) {
  LOID_REQUIRE_CLI();
  int status = 0;
  const std::string dup = fixture("reviews/amazon2018_duplicates.json");
  std::string out = run_cli("data stats --json --duplicates first " + dup, &status);
  ASSERT_EQ(status, 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["records"], 3);
  EXPECT_EQ(j["duplicates_dropped"], 3);
  out = run_cli("data stats --strict " + fixture("reviews/bad_lines.json"), &status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("bad_lines.json:2: malformed line"), std::string::npos) << out;
  out = run_cli("data stats --duplicates newest " + dup, &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("unknown duplicate policy 'newest'"), std::string::npos) << out;
}

TEST_F(StatsTest, RealMusicalInstruments) {
  LOID_REQUIRE_SHARED(p, "amazon2014/reviews_Musical_Instruments_5.json.gz");
  const DataStats s = compute_stats(read_reviews(p));
  EXPECT_EQ(s.records, 10261);
  EXPECT_EQ(s.users, 1429);
  EXPECT_EQ(s.items, 900);
  EXPECT_EQ(s.empty_text, 7);
  EXPECT_EQ(s.skipped_total, 0);
  const std::map<float, std::int64_t> hist = {
      {1.0f, 217}, {2.0f, 250}, {3.0f, 772}, {4.0f, 2084}, {5.0f, 6938}};
  EXPECT_EQ(s.ratings, hist);
  EXPECT_EQ(s.per_user.min, 5);  // 5-core
  EXPECT_EQ(s.per_item.min, 5);
  EXPECT_EQ(s.chars.p50, 309);
  EXPECT_EQ(s.chars.p90, 1086);
  EXPECT_EQ(s.chars.p99, 3066);
  EXPECT_EQ(s.chars.max, 11345);
  EXPECT_EQ(s.tokens.p50, 58);
  EXPECT_EQ(s.tokens.p90, 199);
  EXPECT_EQ(s.tokens.p99, 552);
  EXPECT_EQ(s.tokens.max, 2050);
}

TEST_F(StatsTest, RealAmazon2018Files) {
  LOID_REQUIRE_SHARED(beauty, "amazon2018/All_Beauty_5.json.gz");
  LOID_REQUIRE_SHARED(fashion, "amazon2018/AMAZON_FASHION_5.json.gz");
  const DataStats b = compute_stats(read_reviews(beauty));
  EXPECT_EQ(b.records, 4092);
  EXPECT_EQ(b.users, 991);
  EXPECT_EQ(b.items, 85);
  EXPECT_EQ(b.duplicates_dropped, 1177);
  EXPECT_EQ(b.chars.p50, 134);
  EXPECT_EQ(b.tokens.p99, 276);
  const DataStats f = compute_stats(read_reviews(fashion));
  EXPECT_EQ(f.records, 3042);
  EXPECT_EQ(f.users, 406);
  EXPECT_EQ(f.items, 31);
  EXPECT_EQ(f.duplicates_dropped, 134);
  EXPECT_EQ(f.chars.max, 1394);
  EXPECT_EQ(f.tokens.p90, 63);
}

}  // namespace
}  // namespace loid
