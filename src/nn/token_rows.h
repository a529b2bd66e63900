// The real tokens of a padded batch as rows, so that per-token maps skip the padding.
#pragma once

#include <torch/torch.h>

namespace loid {

// The real tokens of a padded (B, T) batch as N rows: the per-token maps (layer norms,
// projections, feed-forward) run on these rows only, and only attention sees the padded layout.
// With no padding the index stays undefined and pack/pad are views.
struct TokenRows {
  std::int64_t batch = 0, length = 0;
  torch::Tensor index;  // (N) int64 flat positions b * T + t of the real tokens, or undefined
  static TokenRows of(const torch::Tensor& mask);         // mask (B, T), nonzero = real token
  torch::Tensor pack(const torch::Tensor& padded) const;  // (B, T, C) -> (N, C)
  torch::Tensor pad(const torch::Tensor& rows) const;     // (N, C) -> (B, T, C), 0 on padding
};

}  // namespace loid
