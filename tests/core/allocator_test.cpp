// The allocator plan from the environment, and that the tuned settings keep a large block out of
// mmap (where glibc's defaults map it and unmap it again on free).
#include "core/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace loid {
namespace {

TEST(Allocator, TunedOnlyWhenAskedAndNotOverTheUsersTunables) {
  EXPECT_FALSE(plan_allocator(nullptr, nullptr).tune);
  EXPECT_FALSE(plan_allocator("", nullptr).tune);
  EXPECT_FALSE(plan_allocator("default", nullptr).tune);
  EXPECT_NE(plan_allocator(nullptr, nullptr).reason.find("LOID_MALLOC=tuned"), std::string::npos);
  EXPECT_TRUE(plan_allocator("tuned", nullptr).tune);
  EXPECT_TRUE(plan_allocator("tuned", "glibc.rtld.nns=2").tune);

  const AllocatorPlan user = plan_allocator("tuned", "glibc.malloc.mmap_threshold=65536");
  EXPECT_FALSE(user.tune);
  EXPECT_NE(user.reason.find("GLIBC_TUNABLES"), std::string::npos);
}

TEST(Allocator, UnknownChoiceIsAUsageErrorNamingTheVariable) {
  try {
    plan_allocator("fast", nullptr);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("LOID_MALLOC=fast"), std::string::npos) << e.what();
  }
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
// Bytes of mmapped blocks while an 8 MiB block is held.
std::size_t mapped_while_holding_eight_mib() {
  constexpr std::size_t kBytes = 8u << 20;
  const std::size_t before = mallinfo2().hblkhd;
  char* p = static_cast<char*>(std::malloc(kBytes));
  if (p == nullptr) return 0;
  std::memset(p, 1, kBytes);
  const std::size_t during = mallinfo2().hblkhd;
  std::free(p);
  return during - before;
}

TEST(Allocator, TunedSettingsKeepAnEightMiBBlockOutOfMmap) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's malloc replaces glibc's, which mallopt tunes";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "AddressSanitizer's malloc replaces glibc's, which mallopt tunes";
#endif
#endif
  // glibc's initial threshold (128 KiB) first, so the check is seen to detect a mapped block.
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, 128 * 1024), 1);
  ASSERT_GE(mapped_while_holding_eight_mib(), std::size_t{8} << 20);
  ASSERT_TRUE(apply_allocator_tuning());
  EXPECT_EQ(mapped_while_holding_eight_mib(), 0u);
}
#endif

}  // namespace
}  // namespace loid
