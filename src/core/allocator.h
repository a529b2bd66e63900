// The C allocator's settings for the process. Training frees and reallocates the same large
// activation buffers every step; with glibc's defaults each buffer above the (dynamic) mmap
// threshold goes back to the kernel when freed and is faulted in again, page by page, at the next
// step. The tuned settings keep such buffers in the process instead. Opt-in: on the 2-core
// development machine they cut a plugin run's page faults by 78% but not its wall time (within
// 2%, BENCHMARKS.md), and they keep up to 1 GiB of freed memory in the process.
#pragma once

#include <string>

namespace loid {

struct AllocatorPlan {
  bool tune = false;   // apply the tuned settings
  std::string reason;  // why not, when tune is false
};

// Decides from the environment: LOID_MALLOC=tuned -> tune; unset, "" or "default" -> glibc's own
// settings; a GLIBC_TUNABLES value naming any glibc.malloc.* setting wins over both (the user
// chose). Throws UsageError for any other LOID_MALLOC value. Null pointers mean "unset".
AllocatorPlan plan_allocator(const char* loid_malloc, const char* glibc_tunables);

// The tuned settings: mmap threshold 32 MiB (glibc's largest on 64-bit), trim threshold 1 GiB, top
// pad 256 MiB. Returns false where the C library is not glibc or it refuses a value.
bool apply_allocator_tuning();

// plan_allocator on the process environment, then apply_allocator_tuning when it says so. Call
// once, first thing in main, before any thread starts.
AllocatorPlan tune_allocator_from_environment();

}  // namespace loid
