// The arithmetic of the encoder's matrix multiplies. float32 is the default and what every
// equality test pins. bfloat16 (opt-in) runs the linear layers and matrix products through CPU
// autocast (oneDNN bf16 kernels, float32 accumulation): 2-4x the float32 GEMM throughput on CPUs
// with AVX512-BF16, at about 3 significant digits per product; layer norms, softmax, losses and the
// optimiser stay float32, and the weights are kept in float32.
#pragma once

#include <string>

namespace loid {

enum class ComputeDtype { kFloat32, kBFloat16 };

// "fp32" / "bf16".
std::string to_string(ComputeDtype d);
// Accepts "fp32"/"float32" and "bf16"/"bfloat16"; throws UsageError otherwise.
ComputeDtype parse_compute_dtype(const std::string& s);

// While alive, this thread's CPU and CUDA autocast are set for `d` (on with bfloat16 for kBFloat16,
// off for kFloat32); the previous state comes back on destruction. Autocast is thread-local state,
// so the scope covers the calls made from this thread (torch's intra-op workers follow the op). In
// training, open one scope per step around the forward pass and the loss (not the backward pass or
// the optimiser step): the outermost scope's end drops autocast's cached bf16 copies of the
// trainable weights, which the step makes stale.
class ComputeDtypeScope {
 public:
  explicit ComputeDtypeScope(ComputeDtype d);
  ~ComputeDtypeScope();
  ComputeDtypeScope(const ComputeDtypeScope&) = delete;
  ComputeDtypeScope& operator=(const ComputeDtypeScope&) = delete;

 private:
  // Index 0: the CPU's autocast, 1: CUDA's. Types kept as int (at::ScalarType) to keep torch out
  // of this header.
  bool previous_enabled_[2];
  int previous_dtype_[2];
};

}  // namespace loid
