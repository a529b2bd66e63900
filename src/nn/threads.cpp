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

int set_threads(int threads) {
  if (threads < 0) throw UsageError("threads must be >= 0");
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
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
