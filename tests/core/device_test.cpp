// --device values: the accepted spellings, their canonical names, and errors that name the flag.
#include "core/device.h"

#include <gtest/gtest.h>

#include "support/error_of.h"

namespace loid {
namespace {

TEST(Device, ParsesEveryAcceptedSpelling) {
  EXPECT_EQ(parse_device("cpu").kind, DeviceSpec::Kind::kCpu);
  EXPECT_EQ(parse_device("auto").kind, DeviceSpec::Kind::kAuto);
  const DeviceSpec cuda = parse_device("cuda");
  EXPECT_EQ(cuda.kind, DeviceSpec::Kind::kCuda);
  EXPECT_EQ(cuda.index, 0);
  const DeviceSpec third = parse_device("cuda:2");
  EXPECT_EQ(third.kind, DeviceSpec::Kind::kCuda);
  EXPECT_EQ(third.index, 2);
  EXPECT_EQ(parse_device("cuda:0017").index, 17);
}

TEST(Device, CanonicalNamesReadBack) {
  for (const char* name : {"cpu", "auto", "cuda:0", "cuda:3"}) {
    EXPECT_EQ(to_string(parse_device(name)), name);
    EXPECT_EQ(parse_device(to_string(parse_device(name))), parse_device(name));
  }
  EXPECT_EQ(to_string(parse_device("cuda")), "cuda:0");
  EXPECT_EQ(parse_device("cuda"), parse_device("cuda:0"));
  EXPECT_FALSE(parse_device("cuda:1") == parse_device("cuda:0"));
  EXPECT_FALSE(parse_device("cpu") == parse_device("auto"));
}

TEST(Device, AnythingElseIsAUsageErrorNamingTheFlag) {
  for (const char* bad : {"", "CPU", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda0", "cuda:1:2",
                          "cuda:99999", " cpu", "cpu ", "mps", "auto:0"}) {
    const std::string e = testing::error_of<UsageError>([&] { parse_device(bad); });
    EXPECT_NE(e.find("--device '" + std::string(bad) + "'"), std::string::npos) << e;
    EXPECT_NE(e.find("cpu, cuda, cuda:N"), std::string::npos) << e;
  }
  const std::string e = testing::error_of<UsageError>([] { parse_device("tpu", "--eval-device"); });
  EXPECT_NE(e.find("--eval-device 'tpu'"), std::string::npos) << e;
}

}  // namespace
}  // namespace loid
