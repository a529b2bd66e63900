// report.md of a run: it names the encoder (the installed default too) and marks subsets without
// rows instead of showing their zeros as a perfect score.
#include "train/run_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/paths.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using nlohmann::json;

json settings(const std::string& encoder) {
  return {{"settings",
           {{"data", "reviews.json"},
            {"encoder", encoder},
            {"encoder_mode", "frozen"},
            {"split", {{"seed", 3}}},
            {"plugins", {{"dirs", json::array()}, {"merge", "stack"}}}}}};
}

json metrics() {
  const json some = {{"n", 40}, {"mse", 0.75}, {"rmse", 0.866}, {"mae", 0.7}};
  const json none = {{"n", 0}, {"mse", 0.0}, {"rmse", 0.0}, {"mae", 0.0}};
  return {
      {"data", {{"reviews", 400}, {"train", 320}, {"validation", 40}, {"test", 40}}},
      {"test", some},
      {"validation", some},
      {"cold_start", {{"users < 3 train reviews", some}, {"items without train reviews", none}}},
      {"curve", json::array()}};
}

std::string report(const std::string& encoder) {
  const std::string dir = testing::temp_dir("run_report_" + std::to_string(encoder.size()));
  write_run_report(dir, settings(encoder), metrics());
  return read_file(dir + "/report.md");
}

TEST(RunReport, NamesTheEncoderTheDefaultToo) {
  EXPECT_NE(report("/models/my-bert").find("encoder: `/models/my-bert` (frozen mode)"),
            std::string::npos);
  const std::string r = report("");
  EXPECT_NE(r.find("encoder: the installed default, USE-Lite (`" + models_dir() + "/use_lite`)"),
            std::string::npos)
      << r;
  EXPECT_EQ(r.find("encoder: ``"), std::string::npos);
}

// The table line that names `key` (tables are padded, so lines are searched, not cells).
std::string line_with(const std::string& text, const std::string& key) {
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return "";
  const std::size_t start = text.rfind('\n', at) + 1;
  return text.substr(start, text.find('\n', at) - start);
}

TEST(RunReport, SubsetsWithoutRowsSayNoRows) {
  const std::string r = report("x");
  EXPECT_NE(line_with(r, "items without train reviews").find("no rows"), std::string::npos) << r;
  EXPECT_NE(line_with(r, "users < 3 train reviews").find("0.7500"), std::string::npos) << r;
  EXPECT_EQ(r.find("0.0000"), std::string::npos) << r;
}

}  // namespace
}  // namespace loid
