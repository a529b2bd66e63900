// parallel_items (see parallel_items.h). This file alone is compiled with OpenMP (CMakeLists.txt):
// loid's other files are not, so libtorch's inline at::parallel_for runs serially in them.
#include "core/parallel_items.h"

#include <atomic>
#include <exception>
#include <mutex>

namespace loid {

void parallel_items(std::size_t n, const std::function<void(std::size_t)>& f) {
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto items = static_cast<long long>(n);
#pragma omp parallel for schedule(dynamic, 1)
  for (long long i = 0; i < items; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      f(static_cast<std::size_t>(i));
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace loid
