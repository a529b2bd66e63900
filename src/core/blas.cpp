// Run-time access to OpenBLAS (see blas.h).
#include "core/blas.h"

#include <dlfcn.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace loid {

namespace {

template <typename F>
F blas_symbol(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_DEFAULT, name));
}

}  // namespace

BlasInfo blas_info() {
  BlasInfo info;
  using GetString = char* (*)();
  auto corename = blas_symbol<GetString>("openblas_get_corename");
  auto config = blas_symbol<GetString>("openblas_get_config");
  info.openblas = corename != nullptr;
  if (corename != nullptr && corename() != nullptr) info.core = corename();
  if (config != nullptr && config() != nullptr) info.config = config();
  info.threads = blas_thread_count();
  return info;
}

bool set_blas_thread_count(int threads) {
  using SetThreads = void (*)(int);
  auto f = blas_symbol<SetThreads>("openblas_set_num_threads");
  if (f == nullptr) return false;
  f(std::max(1, threads));
  return true;
}

SgemmFn blas_sgemm() {
  static const SgemmFn f = blas_symbol<SgemmFn>("sgemm_");
  return f;
}

int blas_thread_count() {
  using GetInt = int (*)();
  auto f = blas_symbol<GetInt>("openblas_get_num_threads");
  return f == nullptr ? 0 : f();
}

std::string cpu_vector_level() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    bool avx2 = false, avx512f = false;
    std::string w;
    while (words >> w) {
      avx2 = avx2 || w == "avx2";
      avx512f = avx512f || w == "avx512f";
    }
    return avx512f ? "avx512" : avx2 ? "avx2" : "";
  }
  return "";
}

std::string blas_kernel_warning(const BlasInfo& info, const std::string& cpu_level) {
  if (!info.openblas || info.core.empty() || cpu_level.empty()) return "";
  std::string core = info.core;
  std::transform(core.begin(), core.end(), core.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Kernel families older than AVX2 (OpenBLAS's fallbacks when it does not know a CPU).
  static const char* const kGeneric[] = {
      "prescott",   "core2",     "penryn",  "dunnington",  "nehalem",   "katmai",
      "coppermine", "northwood", "banias",  "atom",        "opteron",   "barcelona",
      "bobcat",     "generic",   "unknown", "sandybridge", "bulldozer", "piledriver"};
  const bool generic = std::any_of(std::begin(kGeneric), std::end(kGeneric),
                                   [&](const char* g) { return core == g; });
  if (!generic) return "";
  const std::string advice = cpu_level == "avx512" ? "SkylakeX" : "Haswell";
  return "OpenBLAS runs its '" + info.core + "' kernels on a CPU with " + cpu_level +
         ": matrix multiplies may be several times slower than they can be; setting "
         "OPENBLAS_CORETYPE=" +
         advice +
         " in the environment before starting loid selects "
         "kernels this CPU supports";
}

}  // namespace loid
