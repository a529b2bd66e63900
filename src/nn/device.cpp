// --device resolution against the libtorch build and the visible GPUs (see device.h).
#include "nn/device.h"

#include <torch/cuda.h>
#include <torch/torch.h>

#include "core/error.h"
#include "nn/torch_compat.h"

namespace loid {

bool cuda_built() {
  return at::hasCUDA();
}

int cuda_device_count() {
  return cuda_built() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

c10::Device resolve_device(const DeviceSpec& spec, const std::string& flag) {
  switch (spec.kind) {
    case DeviceSpec::Kind::kCpu:
      return c10::Device(c10::DeviceType::CPU);
    case DeviceSpec::Kind::kAuto:
      return cuda_device_count() > 0 ? c10::Device(c10::DeviceType::CUDA, 0)
                                     : c10::Device(c10::DeviceType::CPU);
    case DeviceSpec::Kind::kCuda:
      break;
  }
  const std::string asked = flag + " " + to_string(spec);
  if (!cuda_built())
    throw UsageError(asked + ": this loid is built against libtorch " +
                     std::string(compat::kTorchVersion) +
                     " without CUDA; build it against a CUDA libtorch (README.md, \"GPU build\") "
                     "or use " +
                     flag + " cpu");
  const int count = cuda_device_count();
  if (count == 0)
    throw UsageError(asked +
                     ": no CUDA GPU is visible to this process (check the driver and "
                     "CUDA_VISIBLE_DEVICES), or use " +
                     flag + " cpu");
  if (spec.index >= count)
    throw UsageError(asked + ": only " + std::to_string(count) + " CUDA GPU" +
                     (count == 1 ? "" : "s") +
                     " visible (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(spec.index));
}

c10::Device resolve_device(const std::string& text, const std::string& flag) {
  return resolve_device(parse_device(text, flag), flag);
}

std::string device_name(const c10::Device& device) {
  if (device.is_cpu()) return "cpu";
  return c10::DeviceTypeName(device.type(), /*lower_case=*/true) + ":" +
         std::to_string(device.has_index() ? device.index() : 0);
}

c10::Device module_device(const torch::nn::Module& module) {
  for (const auto& p : module.parameters()) return p.device();
  for (const auto& b : module.buffers()) return b.device();
  return c10::Device(c10::DeviceType::CPU);
}

}  // namespace loid
