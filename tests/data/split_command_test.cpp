// `loid data split` as a library call (run_data_split) and, when the CLI is built, as a command.
#include "data/split_command.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

// Twelve reviews in Amazon 2014 JSON lines plus one line without a rating (skipped by the reader).
std::string write_reviews(const std::string& dir) {
  std::string text;
  for (int k = 0; k < 12; ++k) {
    text += R"({"reviewerID": "U)" + std::to_string(k % 4) + R"(", "asin": "I)" +
            std::to_string(k % 3) + R"(", "overall": )" + std::to_string(1 + k % 5) +
            R"(.0, "reviewText": "text )" + std::to_string(k) + R"(", "summary": "s", )" +
            R"("unixReviewTime": )" + std::to_string(1000 + k) + "}\n";
    if (k == 5)
      text += R"({"reviewerID": "U9", "asin": "I9", "reviewText": "no rating"})"
              "\n";
  }
  const std::string path = dir + "/reviews.json";
  write_file_atomic(path, text);
  return path;
}

TEST(SplitCommand, ReadsSplitsAndWritesTsv) {
  const std::string dir = testing::temp_dir("split_command");
  DataSplitOptions o;
  o.input = write_reviews(dir);
  o.out_dir = dir + "/out/nested";
  o.split.train = 0.5;
  o.split.validation = 0.25;
  o.split.test = 0.25;
  const DataSplitResult r = run_data_split(o);
  EXPECT_EQ(r.read.kept, 12);
  EXPECT_EQ(r.read.skipped_total(), 1);
  EXPECT_EQ(r.users, 4);
  EXPECT_EQ(r.items, 3);
  EXPECT_EQ(r.counts.train, 6);
  EXPECT_EQ(r.counts.validation, 3);
  EXPECT_EQ(r.counts.test, 3);
  EXPECT_EQ(r.tsv_path, o.out_dir + "/split.tsv");
  const std::string tsv = read_file(r.tsv_path);
  EXPECT_EQ(std::count(tsv.begin(), tsv.end(), '\n'), 13);
  // The review after the skipped line keeps its source line number (8), not its position.
  EXPECT_NE(tsv.find("\n6\t8\tU2\tI0\t2\t"), std::string::npos) << tsv;
  const std::string text = describe_split_result(r, o.split);
  EXPECT_NE(text.find("train 6, validation 3, test 3"), std::string::npos) << text;
  EXPECT_NE(text.find("1 lines skipped"), std::string::npos) << text;
}

TEST(SplitCommand, BadInputAndOptionsWriteNothing) {
  const std::string dir = testing::temp_dir("split_command_bad");
  DataSplitOptions o;
  o.input = write_reviews(dir);
  o.out_dir = dir + "/out";
  o.split.train = 0.9;  // sums to 1.1
  EXPECT_THROW(run_data_split(o), UsageError);
  o.split = SplitOptions{};
  o.input = dir + "/missing.json";
  EXPECT_THROW(run_data_split(o), InputError);
  write_file_atomic(dir + "/empty.json", "");
  o.input = dir + "/empty.json";
  EXPECT_THROW(run_data_split(o), InputError);
  EXPECT_FALSE(file_exists(o.out_dir + "/split.tsv"));
}

TEST(SplitCommand, CliWritesTheSameFileAsTheLibrary) {
  if (!std::filesystem::exists(testing::cli_path())) GTEST_SKIP() << "loid CLI not built";
  const std::string dir = testing::temp_dir("split_command_cli");
  DataSplitOptions o;
  o.input = write_reviews(dir);
  o.out_dir = dir + "/lib";
  o.split.seed = 3;
  run_data_split(o);
  const std::string cmd = testing::cli_path() + " data split " + o.input + " --seed 3 --out " +
                          dir + "/cli > " + dir + "/stdout.txt 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(dir + "/stdout.txt");
  EXPECT_EQ(read_file(dir + "/cli/split.tsv"), read_file(dir + "/lib/split.tsv"));
  const std::string bad = testing::cli_path() + " data split " + o.input +
                          " --ratios 0.8,0.3,0.1 --out " + dir + "/bad > " + dir + "/bad.txt 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_NE(read_file(dir + "/bad.txt").find("sum to 1"), std::string::npos);
}

}  // namespace
}  // namespace loid
