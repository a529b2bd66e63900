// The thread count of a process's numeric work: torch's intra-op pool and OpenBLAS's own pool.
#pragma once

namespace loid {

// Sets the torch intra-op thread count and OpenBLAS's own pool to the same number (0 = the
// machine's cores) and returns it. The first call logs a warning when OpenBLAS runs a generic
// kernel on an AVX2/AVX-512 CPU (core/blas.h).
int set_threads(int threads);

}  // namespace loid
