// The machine's reference for the encoders: matrix-multiply throughput at the encoders' own
// shapes through the call the encoders make (torch::nn::functional::linear: x W^T + b), in float32
// (Debian's libtorch sends it to OpenBLAS) and bfloat16 (oneDNN), with the error of each against
// the same product in float64. Threads: set_threads(0) (one per core, torch and OpenBLAS alike)
// unless LOID_BENCH_THREADS says otherwise.
//   build-x/loid_bench --benchmark_filter=Gemm
// Counters: GFLOP/s (2 M K N per call), rel_err = max |y - y64| / max |y64|, and the OpenBLAS
// kernel family in the benchmark's label.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "core/blas.h"
#include "train/setup.h"
#include "bench_threads.h"

namespace {

// range(0) M rows (tokens), range(1) K in features, range(2) N out features, range(3) 1 = bf16.
void BM_GemmLinear(benchmark::State& state) {
  set_bench_threads();
  const auto m = state.range(0), k = state.range(1), n = state.range(2);
  const bool bf16 = state.range(3) != 0;
  torch::manual_seed(0);
  const double bound = 1.0 / std::sqrt(static_cast<double>(k));  // nn.Linear's initialisation
  const torch::Tensor x64 = torch::randn({m, k}, torch::kFloat64);
  const torch::Tensor w64 = torch::rand({n, k}, torch::kFloat64) * (2 * bound) - bound;
  const torch::Tensor b64 = torch::rand({n}, torch::kFloat64) * (2 * bound) - bound;
  const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
  // The inputs rounded to the compute type, so the error is the product's own.
  const torch::Tensor x = x64.to(dtype), w = w64.to(dtype), b = b64.to(dtype);
  torch::NoGradGuard no_grad;
  const torch::Tensor y64 = torch::nn::functional::linear(
      x.to(torch::kFloat64), w.to(torch::kFloat64), b.to(torch::kFloat64));
  const torch::Tensor y = torch::nn::functional::linear(x, w, b);
  const double rel_err =
      (y.to(torch::kFloat64) - y64).abs().max().item<double>() / y64.abs().max().item<double>();
  for (auto _ : state) {
    auto out = torch::nn::functional::linear(x, w, b);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(k) *
                       static_cast<double>(n) * static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["rel_err"] = rel_err;
  state.counters["threads"] = torch::get_num_threads();
  const loid::BlasInfo info = loid::blas_info();
  state.SetLabel(std::string(bf16 ? "bf16" : "fp32") +
                 (info.openblas ? " openblas:" + info.core : std::string(" no openblas")));
}

void gemm_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N", "bf16"});
  for (int bf16 : {0, 1}) {
    // BERT-base at 32 x 128 tokens and 32 x 32: Q/K/V/attention output, feed-forward in and out.
    for (std::int64_t m : {4096, 1024}) {
      b->Args({m, 768, 768, bf16});
      b->Args({m, 768, 3072, bf16});
      b->Args({m, 3072, 768, bf16});
    }
    // USE-Lite at 32 x 128 tokens: layer 0 QKV, output/residual; layer 1 QKV, output; feed-forward.
    b->Args({4096, 256, 768, bf16});
    b->Args({4096, 256, 512, bf16});
    b->Args({4096, 512, 1536, bf16});
    b->Args({4096, 512, 512, bf16});
    b->Args({4096, 1536, 512, bf16});
  }
}
BENCHMARK(BM_GemmLinear)
    ->Apply(gemm_shapes)
    ->MinTime(1.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
