// Replays the committed request-parser corpus (tests/serve/request_corpus, the seeds of
// request_fuzz.cpp) through both parsers with the harness's limits and promises, so that every
// build checks it without clang or libFuzzer (and the sanitized build of CI under ASan and UBSan).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "serve/request_invariants.h"
#include "support/test_paths.h"

namespace loid {
namespace {

TEST(ServeRequestCorpus, EveryBodyParsesOrIsRefusedCleanly) {
  const std::string dir = testing::source_dir() + "/tests/serve/request_corpus";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 20u) << "corpus looks truncated";

  const RequestLimits limits = testing::fuzz_request_limits();
  int predict_ok = 0, recommend_ok = 0, explain_ok = 0;
  for (const auto& path : files) {
    const auto check = testing::check_request_body(read_file(path), limits);
    EXPECT_EQ(check.problem, "") << path;
    predict_ok += check.predict_ok ? 1 : 0;
    recommend_ok += check.recommend_ok ? 1 : 0;
    explain_ok += check.explain_ok ? 1 : 0;
  }
  // A corpus that only parses, or only fails, would leave one side of each parser unexercised.
  const int n = static_cast<int>(files.size());
  EXPECT_GT(predict_ok, 0);
  EXPECT_LT(predict_ok, n);
  EXPECT_GT(recommend_ok, 0);
  EXPECT_LT(recommend_ok, n);
  EXPECT_GT(explain_ok, 0);
  EXPECT_LT(explain_ok, n);
  std::cout << "[ corpus   ] " << n << " bodies: " << predict_ok << " predict, " << recommend_ok
            << " recommend and " << explain_ok << " explain accepted\n";
}

// The shared checks can fail: a refusal without a field, or a result beyond the limits, is caught.
TEST(ServeRequestCorpus, TheChecksCatchABrokenPromise) {
  RequestLimits tight = testing::fuzz_request_limits();
  EXPECT_EQ(testing::check_request_body(R"({"user": "u", "top": 20})", tight).problem, "");
  EXPECT_TRUE(testing::check_request_body(R"({"user": "u", "top": 20})", tight).recommend_ok);
  const RequestError no_field(400, "", "bad");
  EXPECT_NE(testing::detail::refusal_problem(no_field), "");
  const RequestError teapot(418, "body", "bad");
  EXPECT_NE(testing::detail::refusal_problem(teapot), "");
  EXPECT_EQ(testing::detail::refusal_problem(RequestError(413, "pairs", "too many")), "");
}

}  // namespace
}  // namespace loid
