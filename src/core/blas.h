// The system BLAS behind libtorch's float matrix multiplies (Debian's libtorch calls OpenBLAS
// through libblas.so.3), reached by symbol lookup at run time so that nothing links against it:
// its thread count, and the kernel it chose for this CPU. Without OpenBLAS in the process every
// function here is a harmless no-op.
#pragma once

#include <string>

namespace loid {

struct BlasInfo {
  bool openblas = false;  // openblas_* symbols were found in the process
  std::string core;       // openblas_get_corename(): the kernel family chosen ("Cooperlake", ...)
  std::string config;     // openblas_get_config(): build options
  int threads = 0;        // openblas_get_num_threads()
};
BlasInfo blas_info();

// Sets OpenBLAS's own thread pool (torch::set_num_threads does not reach it). threads < 1 -> 1.
// Returns false when OpenBLAS is not in the process.
bool set_blas_thread_count(int threads);

// The process's BLAS single-precision GEMM, Fortran interface (column-major; what libtorch's
// float matrix multiplies call), or nullptr when no BLAS is loaded.
using SgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n,
                         const int* k, const float* alpha, const float* a, const int* lda,
                         const float* b, const int* ldb, const float* beta, float* c,
                         const int* ldc);
SgemmFn blas_sgemm();

// OpenBLAS's thread count, 0 when OpenBLAS is not in the process.
int blas_thread_count();

// The CPU's widest vector extension as the kernel families name it: "avx512", "avx2" or "" (from
// /proc/cpuinfo flags; "" when unknown).
std::string cpu_vector_level();

// A warning for the log when OpenBLAS runs a generic kernel on a CPU with AVX2 or AVX-512 (its
// automatic choice failed to recognise the CPU, a several-fold slowdown); "" otherwise. It only
// advises: the kernel is chosen when the library loads, from OPENBLAS_CORETYPE, never by us.
std::string blas_kernel_warning(const BlasInfo& info, const std::string& cpu_level);

}  // namespace loid
