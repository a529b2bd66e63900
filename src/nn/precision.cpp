#include "nn/precision.h"

#include <ATen/autocast_mode.h>

#include "core/error.h"

namespace loid {

std::string to_string(ComputeDtype d) {
  return d == ComputeDtype::kBFloat16 ? "bf16" : "fp32";
}

ComputeDtype parse_compute_dtype(const std::string& s) {
  if (s == "fp32" || s == "float32") return ComputeDtype::kFloat32;
  if (s == "bf16" || s == "bfloat16") return ComputeDtype::kBFloat16;
  throw UsageError("compute dtype '" + s + "': expected fp32 or bf16");
}

ComputeDtypeScope::ComputeDtypeScope(ComputeDtype d)
    : previous_enabled_(at::autocast::is_cpu_enabled()),
      previous_dtype_(static_cast<int>(at::autocast::get_autocast_cpu_dtype())) {
  at::autocast::increment_nesting();
  if (d == ComputeDtype::kBFloat16) {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  } else {
    at::autocast::set_cpu_enabled(false);
  }
}

ComputeDtypeScope::~ComputeDtypeScope() {
  at::autocast::set_cpu_enabled(previous_enabled_);
  at::autocast::set_autocast_cpu_dtype(static_cast<at::ScalarType>(previous_dtype_));
  // Autocast caches the bf16 copies of trainable weights; they go stale at the optimiser's next
  // step, so the outermost scope drops them (one scope per forward pass, as in training).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace loid
