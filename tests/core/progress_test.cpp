#include "core/progress.h"

#include <gtest/gtest.h>

namespace loid {
namespace {

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(4.25), "4.2s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-1), "0.0s");
}

TEST(Progress, QuietProgressCountsWithoutOutput) {
  ::testing::internal::CaptureStderr();
  {
    Progress p("work", 10, /*enabled=*/false);
    for (int i = 0; i < 10; ++i) p.advance(1, "loss 0.5");
    p.finish();
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(Progress, PlainModeWritesFinalLine) {
  ::testing::internal::CaptureStderr();
  {
    Progress p("encode", 4);
    p.advance(4);
    p.finish("done");
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("encode"), std::string::npos);
  EXPECT_NE(out.find("4/4"), std::string::npos);
  EXPECT_NE(out.find("done"), std::string::npos);
}

}  // namespace
}  // namespace loid
