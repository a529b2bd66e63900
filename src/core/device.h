// The `--device` option's values, parsed without libtorch: cpu, cuda, cuda:N or auto. What a
// value means on this build and machine (is there a GPU?) is decided in nn/device.h.
#pragma once

#include <string>

namespace loid {

struct DeviceSpec {
  enum class Kind { kCpu, kCuda, kAuto };
  Kind kind = Kind::kCpu;  // kAuto: the first GPU when one is visible, else the CPU
  int index = 0;           // the GPU's ordinal (kCuda only; "cuda" alone is 0)
};

// "cpu", "cuda", "cuda:N" (N a non-negative decimal ordinal) or "auto", case-sensitive. Anything
// else throws UsageError naming `flag` and the accepted values.
DeviceSpec parse_device(const std::string& text, const std::string& flag = "--device");

// The canonical name: "cpu", "cuda:N" or "auto" (parse_device reads it back).
std::string to_string(const DeviceSpec& spec);

bool operator==(const DeviceSpec& a, const DeviceSpec& b);

}  // namespace loid
