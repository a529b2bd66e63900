// The real tokens of a padded batch as rows, so that per-token maps skip the padding.
#pragma once

#include <functional>
#include <vector>

#include <torch/torch.h>

namespace loid {

// The real tokens of a padded (B, T) batch as N rows: the per-token maps (layer norms,
// projections, feed-forward) run on these rows only, and only attention sees a padded layout
// (attend). With no padding the index stays undefined and pack/pad are views.
struct TokenRows {
  // Attention over one padded block: inputs (b, t, C_i) in the order given to attend, and the
  // additive key bias (b, 1, 1, t), 0 on real keys and large_negative on padding -> (b, t, C_out).
  using PaddedAttention = std::function<torch::Tensor(const std::vector<torch::Tensor>& inputs,
                                                      const torch::Tensor& bias)>;

  // Sequences of similar length attended together, padded to their own longest only.
  struct Group {
    std::int64_t size = 0, length = 0;
    torch::Tensor gather;  // (size * length) packed row of each block position (row 0 on padding)
    torch::Tensor real;    // (n) block positions that hold real tokens, in packed order
    torch::Tensor bias;    // (size, 1, 1, length)
  };

  // A block of this many (size x longest^2) units costs about as much as one more group's
  // dispatch: see partition_by_length.
  static constexpr double kGroupCost = 4096.0;

  std::int64_t batch = 0, length = 0;
  torch::Tensor index;  // (N) int64 flat positions b * T + t of the real tokens, or undefined
  torch::Tensor mask;   // (B, T) 1 on real tokens: the caller's floating mask, else float32
  double large_negative = -1e9;
  std::vector<Group> groups;  // empty: attend runs on the whole padded batch
  torch::Tensor restore;      // (N) row of the groups' concatenated output for each packed row
  // Real tokens of each sequence when they come first in its row (then sequence b's packed rows
  // are consecutive); empty when the mask has holes.
  std::vector<std::int64_t> lengths;
  bool packed_attention = true;  // false: attend_packed is never used (from the switch below)

  // mask (B, T), nonzero = real token. Groups are formed when the real tokens of every sequence
  // come first (the tokenizers' layout) and grouping saves attention work; `large_negative` is the
  // bias on padded keys; the biases take a floating mask's dtype.
  static TokenRows of(const torch::Tensor& mask, double large_negative = -1e9,
                      double group_cost = kGroupCost);
  torch::Tensor pack(const torch::Tensor& padded) const;  // (B, T, C) -> (N, C)
  torch::Tensor pad(const torch::Tensor& rows) const;     // (N, C) -> (B, T, C), 0 on padding
  torch::Tensor key_bias() const;                         // (B, 1, 1, T) over the whole batch
  // rows: (N, C_i) packed rows -> (N, C_out): `f` over each group's padded block (or over the
  // whole padded batch), its outputs on the real tokens packed back in order. Differentiable.
  torch::Tensor attend(const std::vector<torch::Tensor>& rows, const PaddedAttention& f) const;

  // Multi-head self-attention computed on the packed rows themselves, each sequence over its own
  // real tokens (no padding, no bias, no copies into blocks): float32 on the CPU, through the
  // process's BLAS, one sequence per thread at a time. qkv (N, 3W) holds q, k, v side by side,
  // head j of each at columns j * W / heads; -> (N, W) with softmax(scale q k^T) v per head.
  // Differentiable (once: its backward is not). can_attend_packed says whether it applies
  // (prefix layout, float32 contiguous rows on the CPU, a BLAS in the process, not switched off;
  // on other devices attention takes the padded path of attend, libtorch's own kernels).
  bool can_attend_packed(const torch::Tensor& qkv) const;
  bool packs_attention() const;  // the batch's part of can_attend_packed (layout, switch, device,
                                 // BLAS)
  torch::Tensor attend_packed(const torch::Tensor& qkv, std::int64_t heads, double scale) const;
};

// Whether TokenRows::of allows attend_packed: on unless the environment has
// LOID_PACKED_ATTENTION=0 at start-up; tests and benchmarks switch it to compare both paths.
bool packed_attention_enabled();
void set_packed_attention_enabled(bool enabled);

// Splits lengths sorted longest first into runs [start, end) that minimise
// sum over runs of (size x longest^2) + group_cost: attention work on a block padded to its
// longest, plus a fixed cost per block. Exact (dynamic programming over the split points).
std::vector<std::pair<std::size_t, std::size_t>> partition_by_length(
    const std::vector<std::int64_t>& sorted_lengths, double group_cost);

}  // namespace loid
