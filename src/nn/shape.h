// A tensor's shape as text for error messages, "(64, 32)": the one spelling every loader uses.
#pragma once

#include <torch/torch.h>

#include <string>

namespace loid {

inline std::string shape_str(torch::IntArrayRef shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

inline std::string shape_str(const torch::Tensor& t) {
  return shape_str(t.sizes());
}

}  // namespace loid
