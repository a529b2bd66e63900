// Saving and loading a module's tensors by name (see state_dict.h).
#include "nn/state_dict.h"

#include "core/error.h"
#include "nn/shape.h"

namespace loid {

std::map<std::string, torch::Tensor> state_dict(const torch::nn::Module& module,
                                                const std::string& prefix) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : module.named_parameters())
    out[prefix + p.key()] = p.value().detach().clone();
  for (const auto& b : module.named_buffers()) out[prefix + b.key()] = b.value().detach().clone();
  return out;
}

void load_state_dict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& state,
                     const std::string& file, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor t) {
    const std::string key = prefix + name;
    auto it = state.find(key);
    if (it == state.end()) throw InputError(file, 0, "missing tensor '" + key + "'");
    if (it->second.sizes() != t.sizes())
      throw InputError(
          file, 0,
          "tensor '" + key + "' has shape " + shape_str(it->second) + ", expected " + shape_str(t));
    t.copy_(it->second);
  };
  for (auto& p : module.named_parameters()) copy(p.key(), p.value());
  for (auto& b : module.named_buffers()) copy(b.key(), b.value());
}

}  // namespace loid
