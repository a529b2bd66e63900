// parallel_items: every item runs once, on more than one thread where there are several, and an
// item's exception reaches the caller.
#include "core/parallel_items.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

extern "C" int omp_get_max_threads();

namespace loid {
namespace {

TEST(ParallelItems, EveryItemOnce) {
  std::vector<std::atomic<int>> calls(1000);
  parallel_items(calls.size(), [&](std::size_t i) { calls[i].fetch_add(1); });
  for (std::size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].load(), 1) << "item " << i;
  parallel_items(0, [](std::size_t) { FAIL() << "no items, no calls"; });
}

TEST(ParallelItems, SeveralThreads) {
  if (omp_get_max_threads() < 2) GTEST_SKIP() << "one thread here";
  // Item 0 waits (up to 60 s) for item 1 to start: only another thread can start it.
  std::atomic<bool> second_started{false};
  std::mutex m;
  std::set<std::thread::id> threads;
  parallel_items(2, [&](std::size_t i) {
    {
      std::lock_guard<std::mutex> lock(m);
      threads.insert(std::this_thread::get_id());
    }
    if (i == 1) second_started = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (i == 0 && !second_started && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  EXPECT_TRUE(second_started.load());
  EXPECT_EQ(threads.size(), 2u);
}

TEST(ParallelItems, ExceptionsReachTheCaller) {
  std::atomic<int> calls{0};
  EXPECT_THROW(parallel_items(100,
                              [&](std::size_t i) {
                                calls.fetch_add(1);
                                if (i == 3) throw std::runtime_error("item 3");
                              }),
               std::runtime_error);
  EXPECT_GE(calls.load(), 1);
}

}  // namespace
}  // namespace loid
