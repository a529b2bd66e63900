// Thread setting shared by the torch benchmarks: one thread per core (torch and OpenBLAS, through
// set_threads) unless LOID_BENCH_THREADS gives a count. Done once per process.
#pragma once

#include <cstdlib>

#include "train/setup.h"

inline void set_bench_threads() {
  static const bool done = [] {
    const char* env = std::getenv("LOID_BENCH_THREADS");
    loid::set_threads(env != nullptr ? std::atoi(env) : 0);
    return true;
  }();
  (void)done;
}
