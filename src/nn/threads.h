// The thread count of a process's numeric work: torch's intra-op pool and OpenBLAS's own pool.
#pragma once

namespace loid {

// Sets the torch intra-op thread count and OpenBLAS's own pool to the same number (0 = the
// machine's cores) and returns it. The first call logs a warning when OpenBLAS runs a generic
// kernel on an AVX2/AVX-512 CPU (core/blas.h).
int set_threads(int threads);

// Ranks of one job on this machine (train/distributed.h): from then on "0 = the machine's cores"
// means this process's share of them, cores / ranks (at least 1).
void set_thread_share(int ranks_on_this_machine);

}  // namespace loid
