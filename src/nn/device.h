// What a --device value means on this build and machine, and where a module lives. The option's
// text is parsed without torch in core/device.h.
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "core/device.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace loid {

// Whether the libtorch this loid is built against has CUDA compiled in.
bool cuda_built();
// CUDA GPUs visible to the process (0 without CUDA).
int cuda_device_count();

// The torch device for `spec`: cpu -> the CPU; cuda:N -> GPU N; auto -> cuda:0 when a GPU is
// visible, else the CPU. A GPU on a build without CUDA, with no GPU visible, or past the last
// one throws UsageError naming `flag`, the value and what to do instead.
c10::Device resolve_device(const DeviceSpec& spec, const std::string& flag = "--device");
// parse_device, then resolve_device.
c10::Device resolve_device(const std::string& text, const std::string& flag = "--device");

// The name recorded in run configs and logs: "cpu" or "cuda:N".
std::string device_name(const c10::Device& device);

// The device of a module's first parameter, else of its first buffer, else the CPU.
c10::Device module_device(const torch::nn::Module& module);

}  // namespace loid
