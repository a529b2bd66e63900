#include "core/allocator.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace loid {

AllocatorPlan plan_allocator(const char* loid_malloc, const char* glibc_tunables) {
  AllocatorPlan plan;
  const std::string choice = loid_malloc ? loid_malloc : "";
  if (choice != "" && choice != "tuned" && choice != "default")
    throw UsageError("LOID_MALLOC=" + choice + ": expected 'default' (the default) or 'tuned'");
  if (choice != "tuned") {
    plan.reason = "glibc's settings (LOID_MALLOC=tuned to change them)";
    return plan;
  }
  if (glibc_tunables && std::strstr(glibc_tunables, "glibc.malloc.") != nullptr) {
    plan.reason = "GLIBC_TUNABLES sets the allocator";
    return plan;
  }
  plan.tune = true;
  return plan;
}

bool apply_allocator_tuning() {
#if defined(__GLIBC__)
  constexpr int kMiB = 1 << 20;
  // Setting any of these turns off glibc's dynamic threshold, so the values hold for the whole run.
  bool ok = mallopt(M_MMAP_THRESHOLD, 32 * kMiB) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, 1024 * kMiB) == 1 && ok;
  ok = mallopt(M_TOP_PAD, 256 * kMiB) == 1 && ok;
  return ok;
#else
  return false;
#endif
}

AllocatorPlan tune_allocator_from_environment() {
  AllocatorPlan plan = plan_allocator(std::getenv("LOID_MALLOC"), std::getenv("GLIBC_TUNABLES"));
  if (plan.tune && !apply_allocator_tuning()) {
    plan.tune = false;
    plan.reason = "the C library does not take the settings";
  }
  return plan;
}

}  // namespace loid
