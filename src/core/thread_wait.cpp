#include "core/thread_wait.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace loid {

ThreadWaitPlan plan_thread_wait(const std::function<const char*(const char*)>& get) {
  ThreadWaitPlan plan;
  const char* choice_c = get("LOID_THREAD_WAIT");
  const std::string choice = choice_c ? choice_c : "";
  if (choice != "" && choice != "passive" && choice != "spin")
    throw UsageError("LOID_THREAD_WAIT=" + choice + ": expected 'passive' (the default) or 'spin'");
  if (choice == "spin") {
    plan.reason = "LOID_THREAD_WAIT=spin";
    return plan;
  }
  if (get(kReexecMarker) != nullptr) {
    plan.reason = "already applied";
    return plan;
  }
  if (get(kOmpWaitPolicy) == nullptr) plan.set.emplace_back(kOmpWaitPolicy, kPassiveOmp);
  if (get(kOpenblasThreadTimeout) == nullptr)
    plan.set.emplace_back(kOpenblasThreadTimeout, kPassiveOpenblas);
  if (plan.set.empty()) {
    plan.reason = "both variables set by the user";
    return plan;
  }
  plan.reexec = true;
  return plan;
}

void apply_thread_wait_from_environment(char** argv) {
  const ThreadWaitPlan plan = plan_thread_wait([](const char* n) { return std::getenv(n); });
  if (!plan.reexec) return;
  for (const auto& [name, value] : plan.set) setenv(name.c_str(), value.c_str(), 0);
  setenv(kReexecMarker, "1", 1);
  execv("/proc/self/exe", argv);
  // Still here: exec failed. Run on with the defaults the libraries already read.
  const int err = errno;
  std::fprintf(stderr,
               "loid: note: could not re-execute to set %s and %s (%s); idle threads busy-wait "
               "(set the two variables yourself to avoid it)\n",
               kOmpWaitPolicy, kOpenblasThreadTimeout, std::strerror(err));
}

}  // namespace loid
