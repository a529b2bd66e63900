// Replays the reader's fuzz corpus (tests/fuzz/corpus/reader, the seeds of
// tests/fuzz/reader_fuzz.cpp) through read_reviews and parse_python_literal with the harness's
// promises (tests/fuzz/reader_invariants.h), so that every build checks it without clang or
// libFuzzer (and the sanitized build of CI under ASan and UBSan).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/progress.h"
#include "fuzz/reader_invariants.h"
#include "support/test_paths.h"

namespace loid {
namespace {

class ReaderCorpus : public ::testing::Test {
 protected:
  void SetUp() override { Progress::set_quiet(true); }
  const std::string scratch_ = testing::temp_dir("reader_corpus") + "/input";
};

TEST_F(ReaderCorpus, EveryFileKeepsTheReadersPromises) {
  const std::string dir = testing::source_dir() + "/tests/fuzz/corpus/reader";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 20u) << "corpus looks truncated";

  int read = 0, refused = 0, with_records = 0, with_skips = 0;
  for (const auto& path : files) {
    const auto check = testing::check_review_bytes(read_file(path), scratch_);
    EXPECT_EQ(check.problem, "") << path;
    read += check.read ? 1 : 0;
    refused += check.read ? 0 : 1;
    with_records += check.kept > 0 ? 1 : 0;
    with_skips += check.skipped > 0 ? 1 : 0;
  }
  // The corpus reaches records, skipped lines and files refused as a whole.
  EXPECT_GT(with_records, 10);
  EXPECT_GT(with_skips, 5);
  EXPECT_GT(refused, 0);
  std::cout << "[ corpus   ] " << files.size() << " files: " << read << " read (" << with_records
            << " with records, " << with_skips << " with skipped lines), " << refused
            << " refused\n";
}

// The checks see what they should: the records of a known file, and a broken accounting.
TEST_F(ReaderCorpus, TheChecksCountAndCatch) {
  const std::string two =
      "{\"reviewerID\": \"U1\", \"asin\": \"I1\", \"overall\": 4}\n"
      "{\"reviewerID\": \"U2\", \"asin\": \"I1\", \"overall\": 9}\n";
  const auto check = testing::check_review_bytes(two, scratch_);
  EXPECT_EQ(check.problem, "");
  EXPECT_TRUE(check.read);
  EXPECT_EQ(check.kept, 1);
  EXPECT_EQ(check.skipped, 1);

  ReviewFile f = read_reviews(scratch_);
  ASSERT_EQ(f.reviews.size(), 1u);
  EXPECT_EQ(testing::detail::review_file_problem(f, {}, 3), "");
  f.report.lines += 1;
  EXPECT_NE(testing::detail::review_file_problem(f, {}, 3), "");
  f = read_reviews(scratch_);
  f.reviews[0].rating = 0.5f;
  EXPECT_NE(testing::detail::review_file_problem(f, {}, 3), "");
}

}  // namespace
}  // namespace loid
