// Tensor helpers shared by the models and training loops.
#pragma once

#include <limits>
#include <vector>

#include <torch/torch.h>

namespace loid {

// A large negative that stays finite in the compute dtype, so that fully masked attention rows
// give a uniform (harmless) softmax instead of NaN.
inline double large_negative(torch::ScalarType t) {
  if (t == torch::kDouble) return std::numeric_limits<double>::lowest();
  if (t == torch::kFloat) return std::numeric_limits<float>::lowest();
  return -65504.0;  // float16's lowest, also fine for bfloat16
}

// A tensor of any float type and layout as a flat float vector.
inline std::vector<float> to_float_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Detached copies of `params` (the best epoch's weights during early stopping).
inline std::vector<torch::Tensor> snapshot_params(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  out.reserve(params.size());
  for (const auto& p : params) out.push_back(p.detach().clone());
  return out;
}

// Copies `saved` (from snapshot_params) back into `params`.
inline void restore_params(const std::vector<torch::Tensor>& params,
                           const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
}

}  // namespace loid
