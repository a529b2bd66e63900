// The libtorch API differences the project meets between libtorch 1.13 (Debian's, what CI
// builds) and 2.x (the CUDA libtorch of the GPU machines), in one place: code elsewhere calls these
// and never tests TORCH_VERSION_* itself.
//
// Autocast: 1.13 has one function per device (is_cpu_enabled, set_autocast_gpu_dtype, ...);
// 2.4 added the same calls taking the device type and deprecated the old ones (each call of an
// old one prints a deprecation warning on 2.x).
#pragma once

#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/version.h>

namespace loid::compat {

// 1 when the libtorch being compiled against has the device-type autocast calls (2.4 and later).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define LOID_TORCH_AUTOCAST_BY_DEVICE 1
#else
#define LOID_TORCH_AUTOCAST_BY_DEVICE 0
#endif

// The autocast device types the project uses: c10::DeviceType::CPU and c10::DeviceType::CUDA.
// Others are rejected by the 1.13 branch (a programming error, not a user's).

// Whether this thread's autocast is on for `device`.
inline bool autocast_enabled(c10::DeviceType device) {
#if LOID_TORCH_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(device);
#else
  TORCH_CHECK(device == c10::DeviceType::CPU || device == c10::DeviceType::CUDA,
              "autocast_enabled: unsupported device type");
  return device == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled()
                                        : at::autocast::is_enabled();
#endif
}

// Turns this thread's autocast for `device` on or off.
inline void set_autocast_enabled(c10::DeviceType device, bool enabled) {
#if LOID_TORCH_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(device, enabled);
#else
  TORCH_CHECK(device == c10::DeviceType::CPU || device == c10::DeviceType::CUDA,
              "set_autocast_enabled: unsupported device type");
  if (device == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(enabled);
  } else {
    at::autocast::set_enabled(enabled);
  }
#endif
}

// The reduced-precision type autocast uses on `device` (bfloat16 on the CPU by default).
inline c10::ScalarType autocast_dtype(c10::DeviceType device) {
#if LOID_TORCH_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(device);
#else
  TORCH_CHECK(device == c10::DeviceType::CPU || device == c10::DeviceType::CUDA,
              "autocast_dtype: unsupported device type");
  return device == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                        : at::autocast::get_autocast_gpu_dtype();
#endif
}

inline void set_autocast_dtype(c10::DeviceType device, c10::ScalarType dtype) {
#if LOID_TORCH_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(device, dtype);
#else
  TORCH_CHECK(device == c10::DeviceType::CPU || device == c10::DeviceType::CUDA,
              "set_autocast_dtype: unsupported device type");
  if (device == c10::DeviceType::CPU) {
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

// The libtorch version compiled against, "MAJOR.MINOR.PATCH" (for logs and `loid --version`).
constexpr const char* kTorchVersion = TORCH_VERSION;

}  // namespace loid::compat
