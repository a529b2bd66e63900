// Work items spread over the process's OpenMP threads, the pool libtorch's own kernels use.
#pragma once

#include <cstddef>
#include <functional>

namespace loid {

// Calls f(0) .. f(n - 1), each once, on up to omp_get_max_threads() threads (what
// torch::set_num_threads set on the calling thread), handing items out in order, one at a time;
// returns when all are done. Torch operations called from f run serially (they see that they are
// inside a parallel region). The first exception thrown by f is rethrown here once all threads
// stop; items not started by then are skipped. Without OpenMP the items run in order on the caller.
void parallel_items(std::size_t n, const std::function<void(std::size_t)>& f);

}  // namespace loid
