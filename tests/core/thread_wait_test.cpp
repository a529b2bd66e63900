// The thread-wait plan: which variables are set and when the executable re-executes itself; and,
// end to end, that `loid` runs with them (its child environment is observed through /proc).
#include "core/thread_wait.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/error.h"

namespace loid {
namespace {

ThreadWaitPlan plan_for(const std::map<std::string, std::string>& env) {
  return plan_thread_wait([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(ThreadWait, SetsBothAndReexecutesByDefault) {
  for (const auto& env : {std::map<std::string, std::string>{},
                          std::map<std::string, std::string>{{"LOID_THREAD_WAIT", ""}},
                          std::map<std::string, std::string>{{"LOID_THREAD_WAIT", "passive"}}}) {
    const ThreadWaitPlan p = plan_for(env);
    EXPECT_TRUE(p.reexec);
    ASSERT_EQ(p.set.size(), 2u);
    EXPECT_EQ(p.set[0], std::make_pair(std::string("OMP_WAIT_POLICY"), std::string("PASSIVE")));
    EXPECT_EQ(p.set[1], std::make_pair(std::string("OPENBLAS_THREAD_TIMEOUT"), std::string("4")));
  }
}

TEST(ThreadWait, KeepsTheUsersValuesAndNeverLoops) {
  // One set by the user: only the other is added.
  ThreadWaitPlan p = plan_for({{"OMP_WAIT_POLICY", "ACTIVE"}});
  EXPECT_TRUE(p.reexec);
  ASSERT_EQ(p.set.size(), 1u);
  EXPECT_EQ(p.set[0].first, "OPENBLAS_THREAD_TIMEOUT");
  // Both set: nothing to do.
  p = plan_for({{"OMP_WAIT_POLICY", "ACTIVE"}, {"OPENBLAS_THREAD_TIMEOUT", "20"}});
  EXPECT_FALSE(p.reexec);
  EXPECT_TRUE(p.set.empty());
  // The re-executed process does not re-execute, whatever else holds.
  p = plan_for({{"LOID_THREAD_WAIT_APPLIED", "1"}});
  EXPECT_FALSE(p.reexec);
  EXPECT_EQ(p.reason, "already applied");
  // Opt-out.
  p = plan_for({{"LOID_THREAD_WAIT", "spin"}});
  EXPECT_FALSE(p.reexec);
  EXPECT_TRUE(p.set.empty());
}

TEST(ThreadWait, UnknownChoiceIsAUsageErrorNamingTheVariable) {
  try {
    plan_for({{"LOID_THREAD_WAIT", "busy"}});
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("LOID_THREAD_WAIT=busy"), std::string::npos);
  }
}

}  // namespace
}  // namespace loid
