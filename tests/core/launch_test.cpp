// Where a process stands in a job: flags first, then the torchrun-style environment; clear errors
// for what is missing or out of range. And the launcher's exit status when a rank fails.
#include "core/launch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "support/error_of.h"

namespace loid {
namespace {

// Sets the job variables for one test and clears them after.
class JobEnvironment : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                          "MASTER_PORT", "LOID_LAUNCHED_RANK", "LOID_LAUNCHER_PID"})
      unsetenv(v);
  }
};

TEST_F(JobEnvironment, OneProcessNeedsNothing) {
  const DistJob job = resolve_dist_job(DistOptions{});
  EXPECT_EQ(job.world_size, 1);
  EXPECT_EQ(job.rank, 0);
  EXPECT_FALSE(job.distributed());
}

TEST_F(JobEnvironment, FromTheEnvironment) {
  setenv("WORLD_SIZE", "4", 1);
  setenv("RANK", "2", 1);
  setenv("LOCAL_RANK", "0", 1);
  setenv("LOCAL_WORLD_SIZE", "2", 1);
  setenv("MASTER_ADDR", "10.0.0.5", 1);
  setenv("MASTER_PORT", "29500", 1);
  const DistJob job = resolve_dist_job(DistOptions{});
  EXPECT_EQ(job.world_size, 4);
  EXPECT_EQ(job.rank, 2);
  EXPECT_EQ(job.local_rank, 0);
  EXPECT_EQ(job.local_world_size, 2);
  EXPECT_EQ(job.host, "10.0.0.5");
  EXPECT_EQ(job.port, 29500);
  EXPECT_TRUE(job.distributed());
}

TEST_F(JobEnvironment, FlagsWinOverTheEnvironment) {
  setenv("WORLD_SIZE", "4", 1);
  setenv("RANK", "2", 1);
  setenv("MASTER_ADDR", "10.0.0.5", 1);
  setenv("MASTER_PORT", "29500", 1);
  DistOptions o;
  o.world_size = 2;
  o.process_rank = 1;
  o.master = "node0:1234";
  const DistJob job = resolve_dist_job(o);
  EXPECT_EQ(job.world_size, 2);
  EXPECT_EQ(job.rank, 1);
  EXPECT_EQ(job.host, "node0");
  EXPECT_EQ(job.port, 1234);
}

TEST_F(JobEnvironment, ClearErrors) {
  DistOptions o;
  o.world_size = 2;
  EXPECT_NE(testing::error_of<UsageError>([&] { resolve_dist_job(o); }).find("--process-rank"),
            std::string::npos);
  o.process_rank = 2;
  EXPECT_NE(
      testing::error_of<UsageError>([&] { resolve_dist_job(o); }).find("outside a world of 2"),
      std::string::npos);
  o.process_rank = 1;
  EXPECT_NE(testing::error_of<UsageError>([&] { resolve_dist_job(o); }).find("MASTER_ADDR"),
            std::string::npos);
  o.master = "node0";
  EXPECT_NE(testing::error_of<UsageError>([&] { resolve_dist_job(o); }).find("HOST:PORT"),
            std::string::npos);
  o.master = "node0:70000";
  EXPECT_NE(testing::error_of<UsageError>([&] { resolve_dist_job(o); }).find("1-65535"),
            std::string::npos);
  setenv("RANK", "x", 1);
  o.process_rank = -1;
  o.master = "node0:1";
  EXPECT_NE(testing::error_of<UsageError>([&] { resolve_dist_job(o); }).find("RANK='x'"),
            std::string::npos);
  DistOptions n;
  n.nproc = 0;
  EXPECT_THROW(should_launch_local_ranks(n), UsageError);
}

TEST_F(JobEnvironment, OnlyTheFirstProcessLaunches) {
  DistOptions o;
  o.nproc = 2;
  EXPECT_TRUE(should_launch_local_ranks(o));
  setenv("LOID_LAUNCHED_RANK", "1", 1);
  EXPECT_FALSE(should_launch_local_ranks(o));
  o.nproc = 1;
  unsetenv("LOID_LAUNCHED_RANK");
  EXPECT_FALSE(should_launch_local_ranks(o));
}

// The launcher with /bin/sh as the program: each rank sees its variables; a failing rank ends the
// job with its status, and a rank that would run on is stopped.
TEST_F(JobEnvironment, LauncherPassesTheJobAndReportsTheFirstFailure) {
  EXPECT_EQ(launch_local_ranks(3, "/bin/sh",
                               {"sh", "-c",
                                "test \"$WORLD_SIZE\" = 3 && test \"$LOCAL_RANK\" = \"$RANK\" && "
                                "test -n \"$MASTER_PORT\" && test \"$MASTER_ADDR\" = 127.0.0.1"}),
            0);
  // Rank 1 fails with status 7 at once; rank 0 would sleep for a minute and is terminated.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(launch_local_ranks(2, "/bin/sh",
                               {"sh", "-c", "if [ \"$RANK\" = 1 ]; then exit 7; fi; sleep 60"},
                               /*grace_seconds=*/0.5),
            7);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  // A rank killed by a signal: 128 + the signal.
  EXPECT_EQ(
      launch_local_ranks(2, "/bin/sh", {"sh", "-c", "if [ \"$RANK\" = 0 ]; then kill -9 $$; fi"}),
      128 + 9);
}

}  // namespace
}  // namespace loid
