// TokenRows: packing the real tokens of a padded batch (see token_rows.h).
#include "nn/token_rows.h"

namespace loid {

TokenRows TokenRows::of(const torch::Tensor& mask) {
  TokenRows r;
  r.batch = mask.size(0);
  r.length = mask.size(1);
  auto flat = mask.reshape({-1}).ne(0);  // (B T)
  if (!flat.all().item<bool>()) r.index = flat.nonzero().squeeze(1);  // (N)
  return r;
}

torch::Tensor TokenRows::pack(const torch::Tensor& padded) const {
  auto flat = padded.reshape({batch * length, padded.size(-1)});  // (B T, C)
  return index.defined() ? flat.index_select(0, index) : flat;    // (N, C)
}

torch::Tensor TokenRows::pad(const torch::Tensor& rows) const {
  const auto c = rows.size(-1);
  if (!index.defined()) return rows.view({batch, length, c});
  return torch::zeros({batch * length, c}, rows.options())
      .index_copy(0, index, rows)
      .view({batch, length, c});  // (B, T, C)
}

}  // namespace loid
