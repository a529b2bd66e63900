// scripts/table3.sh as a user runs it, on the tiny random BERT and GPT-2 of tests/golden and two
// small synthetic domains: the table has one cell per (domain, encoder) with every seed, each
// number is a plugin's own test metric as `loid pretrain` wrote it, the means and intervals equal
// loid's seed_stats (src/eval/stats.h) on those numbers, and bad arguments fail with a message.
// Random weights: the values themselves mean nothing. Skipped in a build without the executable.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "eval/stats.h"
#include "support/child_process.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using json = nlohmann::json;

// Runs `bash scripts/table3.sh args...` (bounded), output into `log`; returns its exit code.
int run_table3_script(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {"/bin/bash", testing::source_dir() + "/scripts/table3.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ChildProcess child(argv, log);
  if (child.pid() <= 0) return -1;
  if (!child.wait_for(std::chrono::seconds(600))) return -1;
  return child.exit_code();
}

int count_lines_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) ++n;
  return n;
}

class Table3Script : public ::testing::Test {
 protected:
  // Two synthetic domains, written once for the tests of this file.
  static void SetUpTestSuite() {
    if (testing::cli_path().empty()) return;
    dir_ = new std::string(testing::temp_dir("table3_script"));
    const std::string log = *dir_ + "/synth.log";
    testing::ChildProcess synth(
        {testing::cli_path(), "data", "synth", "--domains", "2", "--users", "30", "--items", "20",
         "--seed", "3", "--out", *dir_ + "/shop.json"},
        log);
    synth_ok_ =
        synth.pid() > 0 && synth.wait_for(std::chrono::seconds(120)) && synth.exit_code() == 0;
    // Both golden models live in directories named "tiny"; the table labels encoders by their
    // directory's name, so give them distinct ones.
    std::filesystem::create_directory_symlink(testing::golden("bert/tiny"), *dir_ + "/bert");
    std::filesystem::create_directory_symlink(testing::golden("gpt2/tiny"), *dir_ + "/gpt2");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    LOID_REQUIRE_CLI();
    ASSERT_TRUE(synth_ok_) << read_file(*dir_ + "/synth.log");
  }
  static std::string domain(int k) { return *dir_ + "/shop_d" + std::to_string(k) + ".json"; }
  static std::string encoders() { return *dir_ + "/bert," + *dir_ + "/gpt2"; }

  static std::string* dir_;
  static bool synth_ok_;
};
std::string* Table3Script::dir_ = nullptr;
bool Table3Script::synth_ok_ = false;

TEST_F(Table3Script, OneCellPerDomainAndEncoderWithTheRunsOwnMetrics) {
  const std::string out = *dir_ + "/table";
  const std::string log = *dir_ + "/table3.log";
  ASSERT_EQ(run_table3_script(
                {"--loid", testing::cli_path(), "--encoders", encoders(), "--data", domain(1),
                 "--data", domain(2),           "--seeds",    "1,2,3",    "--out",  out,
                 "--",     "--epochs",          "1",          "--rank",   "2",      "--threads",
                 "1",      "--no-progress"},
                log),
            0)
      << read_file(log);

  const json t = json::parse(read_file(out + "/table3.json"));
  EXPECT_EQ(t.at("seeds"), json::array({1, 2, 3}));
  ASSERT_EQ(t.at("cells").size(), 4u) << t.dump(2);
  std::set<std::pair<std::string, std::string>> seen;
  for (const json& cell : t.at("cells")) {
    const auto dom = cell.at("domain").get<std::string>();
    const auto enc = cell.at("encoder").get<std::string>();
    seen.insert({dom, enc});
    EXPECT_EQ(cell.at("seeds"), 3) << dom << " " << enc;
    ASSERT_EQ(cell.at("runs").size(), 3u);
    for (const char* metric : {"precision", "recall", "f1"}) {
      const json& s = cell.at(metric);
      std::vector<double> values;
      for (const json& run : cell.at("runs")) {
        // The number in the table is the one the plugin's own metadata holds.
        const json meta =
            json::parse(read_file(run.at("plugin").get<std::string>() + "/loid_metadata.json"));
        const auto own =
            meta.at("metrics").at("per_domain").at(0).at("test").at(metric).get<double>();
        EXPECT_EQ(run.at(metric).get<double>(), own) << run.dump();
        EXPECT_GE(own, 0.0);
        EXPECT_LE(own, 1.0);
        values.push_back(own);
      }
      EXPECT_EQ(s.at("values").get<std::vector<double>>(), values);
      const SeedStats want = seed_stats(values, 0.95);
      const auto mean = s.at("mean").get<double>(), low = s.at("ci_low").get<double>(),
                 high = s.at("ci_high").get<double>();
      EXPECT_NEAR(mean, want.mean, 1e-12) << metric;
      EXPECT_NEAR(low, std::max(0.0, want.ci_low), 1e-6) << metric;
      EXPECT_NEAR(high, std::min(1.0, want.ci_high), 1e-6) << metric;
      EXPECT_LE(0.0, low);
      EXPECT_LE(low, mean);
      EXPECT_LE(mean, high);
      EXPECT_LE(high, 1.0);
    }
  }
  const std::set<std::pair<std::string, std::string>> want = {
      {"shop_d1", "bert"}, {"shop_d1", "gpt2"}, {"shop_d2", "bert"}, {"shop_d2", "gpt2"}};
  EXPECT_EQ(seen, want);

  // The Markdown table: a header and one row per cell, each with three "mean [low, high]".
  const std::string md = read_file(out + "/table3.md");
  EXPECT_NE(md.find("| Domain | Encoder | Seeds | Test reviews | Precision | Recall | F1 |"),
            std::string::npos)
      << md;
  EXPECT_EQ(count_lines_starting(md, "| shop_d"), 4) << md;
  std::istringstream rows(md);
  for (std::string line; std::getline(rows, line);) {
    if (line.rfind("| shop_d", 0) != 0) continue;
    int intervals = 0;
    for (std::size_t at = line.find(" ["); at != std::string::npos; at = line.find(" [", at + 1))
      ++intervals;
    EXPECT_EQ(intervals, 3) << line;
  }
  // The script prints the table too.
  EXPECT_NE(read_file(log).find("| Domain | Encoder |"), std::string::npos);

  // Run again: every finished plugin is kept, and the table is the same.
  const std::string again = *dir_ + "/again.log";
  ASSERT_EQ(run_table3_script({"--loid", testing::cli_path(), "--encoders", encoders(), "--data",
                               domain(1), "--data", domain(2), "--seeds", "1,2,3", "--out", out},
                              again),
            0)
      << read_file(again);
  EXPECT_EQ(count_lines_starting(read_file(again), "table3.sh: kept "), 12) << read_file(again);
  EXPECT_EQ(json::parse(read_file(out + "/table3.json")), t);
}

TEST_F(Table3Script, BadArgumentsFailWithAMessageAndNoTable) {
  const std::string out = *dir_ + "/bad";
  const std::string log = *dir_ + "/bad.log";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::string tiny = testing::golden("bert/tiny"), tiny2 = testing::golden("gpt2/tiny");
  const std::vector<Case> cases = {
      {{"--encoders", tiny + "," + tiny2, "--data", domain(1)},
       "two encoder directories have the label 'tiny'"},
      {{"--encoders", encoders(), "--data", *dir_ + "/absent.json"},
       "data file '" + *dir_ + "/absent.json' does not exist"},
      {{"--encoders", encoders(), "--data", domain(1), "--seeds", "1;2"},
       "--seeds must be integers"},
      {{"--encoders", *dir_, "--data", domain(1)}, "has no config.json"},
      {{"--data", domain(1)}, "--encoders DIR_A,DIR_B is required"},
      {{"--encoders", encoders(), "--data", domain(1), "--bogus"}, "unknown argument '--bogus'"},
  };
  for (const Case& c : cases) {
    std::ofstream(log, std::ios::trunc).close();
    std::vector<std::string> args = {"--loid", testing::cli_path(), "--out", out};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(run_table3_script(args, log), 2) << c.message;
    EXPECT_NE(read_file(log).find(c.message), std::string::npos) << read_file(log);
    EXPECT_FALSE(std::filesystem::exists(out + "/table3.json")) << c.message;
  }
}
}  // namespace
}  // namespace loid
