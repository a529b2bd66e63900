#include "nn/precision.h"

#include "core/error.h"
#include "nn/torch_compat.h"

namespace loid {

namespace {
// The autocast device types a scope sets, in the order of its saved state.
constexpr c10::DeviceType kAutocastDevices[2] = {c10::DeviceType::CPU, c10::DeviceType::CUDA};
}  // namespace

std::string to_string(ComputeDtype d) {
  return d == ComputeDtype::kBFloat16 ? "bf16" : "fp32";
}

ComputeDtype parse_compute_dtype(const std::string& s) {
  if (s == "fp32" || s == "float32") return ComputeDtype::kFloat32;
  if (s == "bf16" || s == "bfloat16") return ComputeDtype::kBFloat16;
  throw UsageError("compute dtype '" + s + "': expected fp32 or bf16");
}

ComputeDtypeScope::ComputeDtypeScope(ComputeDtype d) {
  for (int i = 0; i < 2; ++i) {
    previous_enabled_[i] = compat::autocast_enabled(kAutocastDevices[i]);
    previous_dtype_[i] = static_cast<int>(compat::autocast_dtype(kAutocastDevices[i]));
  }
  at::autocast::increment_nesting();
  for (const auto device : kAutocastDevices) {
    if (d == ComputeDtype::kBFloat16) compat::set_autocast_dtype(device, at::kBFloat16);
    compat::set_autocast_enabled(device, d == ComputeDtype::kBFloat16);
  }
}

ComputeDtypeScope::~ComputeDtypeScope() {
  for (int i = 0; i < 2; ++i) {
    compat::set_autocast_enabled(kAutocastDevices[i], previous_enabled_[i]);
    compat::set_autocast_dtype(kAutocastDevices[i],
                               static_cast<at::ScalarType>(previous_dtype_[i]));
  }
  // Autocast caches the bf16 copies of trainable weights; they go stale at the optimiser's next
  // step, so the outermost scope drops them (one scope per forward pass, as in training).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace loid
