// Setting torch's and OpenBLAS's thread pools together (see threads.h).
#include "nn/threads.h"

#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <thread>

#include "core/blas.h"
#include "core/error.h"
#include "core/progress.h"

namespace loid {

namespace {
int g_thread_share = 1;
}  // namespace

void set_thread_share(int ranks_on_this_machine) {
  g_thread_share = std::max(1, ranks_on_this_machine);
}

int set_threads(int threads) {
  if (threads < 0) throw UsageError("threads must be >= 0");
  if (threads == 0)
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / g_thread_share);
  torch::set_num_threads(threads);
  // Debian's libtorch does its float matrix multiplies in OpenBLAS, whose own thread pool
  // torch::set_num_threads does not reach: keep both at the same count.
  set_blas_thread_count(threads);
  static const bool checked = [] {
    const std::string warning = blas_kernel_warning(blas_info(), cpu_vector_level());
    if (!warning.empty()) log_warn(warning);
    return true;
  }();
  (void)checked;
  return threads;
}

}  // namespace loid
