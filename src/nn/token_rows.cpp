// TokenRows: packing the real tokens of a padded batch, and attention by length groups (see
// token_rows.h).
#include "nn/token_rows.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace loid {

std::vector<std::pair<std::size_t, std::size_t>> partition_by_length(
    const std::vector<std::int64_t>& sorted_lengths, double group_cost) {
  const std::size_t n = sorted_lengths.size();
  // best[j]: least cost of the first j sequences; from[j]: where the last run of that split starts.
  std::vector<double> best(n + 1, std::numeric_limits<double>::infinity());
  std::vector<std::size_t> from(n + 1, 0);
  best[0] = 0.0;
  for (std::size_t j = 1; j <= n; ++j) {
    for (std::size_t i = 0; i < j; ++i) {
      const double longest = static_cast<double>(sorted_lengths[i]);
      const double cost = best[i] + static_cast<double>(j - i) * longest * longest + group_cost;
      if (cost < best[j]) {
        best[j] = cost;
        from[j] = i;
      }
    }
  }
  std::vector<std::pair<std::size_t, std::size_t>> runs;
  for (std::size_t j = n; j > 0; j = from[j]) runs.emplace_back(from[j], j);
  std::reverse(runs.begin(), runs.end());
  return runs;
}

TokenRows TokenRows::of(const torch::Tensor& mask, double large_negative, double group_cost) {
  TokenRows r;
  r.batch = mask.size(0);
  r.length = mask.size(1);
  r.large_negative = large_negative;
  r.mask = mask.is_floating_point() ? mask : mask.to(torch::kFloat32);
  auto flat = mask.reshape({-1}).ne(0);  // (B T)
  if (flat.all().item<bool>()) return r;
  r.index = flat.nonzero().squeeze(1);  // (N)

  // Groups need each sequence's real tokens first: then packed row offset[b] + t is (b, t).
  const auto real = mask.ne(0).to(torch::kCPU).contiguous();
  const bool* m = real.data_ptr<bool>();
  const auto B = r.batch, T = r.length;
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(B), 0);
  for (std::int64_t b = 0; b < B; ++b) {
    std::int64_t n = 0;
    while (n < T && m[b * T + n]) ++n;
    for (std::int64_t t = n; t < T; ++t) {
      if (m[b * T + t]) return r;  // a hole: attention runs on the whole padded batch
    }
    lengths[static_cast<std::size_t>(b)] = n;
  }
  std::vector<std::int64_t> order;  // non-empty sequences, longest first
  for (std::int64_t b = 0; b < B; ++b) {
    if (lengths[static_cast<std::size_t>(b)] > 0) order.push_back(b);
  }
  if (order.empty()) return r;
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return lengths[static_cast<std::size_t>(a)] > lengths[static_cast<std::size_t>(b)];
  });
  std::vector<std::int64_t> sorted;
  for (auto b : order) sorted.push_back(lengths[static_cast<std::size_t>(b)]);
  const auto runs = partition_by_length(sorted, group_cost);
  if (runs.size() == 1 && static_cast<std::int64_t>(order.size()) == B && sorted.front() == T) {
    return r;  // one block, the whole batch: nothing to save
  }

  std::vector<std::int64_t> offset(static_cast<std::size_t>(B), 0);
  std::partial_sum(lengths.begin(), lengths.end() - 1, offset.begin() + 1);
  const std::int64_t N = offset.back() + lengths.back();
  std::vector<std::int64_t> restore(static_cast<std::size_t>(N), 0);
  std::int64_t out_row = 0;  // row of the groups' concatenated output
  const auto long_cpu = torch::TensorOptions().dtype(torch::kInt64);
  for (const auto& [start, end] : runs) {
    Group g;
    g.size = static_cast<std::int64_t>(end - start);
    g.length = sorted[start];
    std::vector<std::int64_t> gather(static_cast<std::size_t>(g.size * g.length), 0);
    std::vector<std::int64_t> real_pos, seqs;
    for (std::int64_t i = 0; i < g.size; ++i) {
      const auto b = order[start + static_cast<std::size_t>(i)];
      seqs.push_back(b);
      for (std::int64_t t = 0; t < lengths[static_cast<std::size_t>(b)]; ++t) {
        const auto pos = i * g.length + t;
        gather[static_cast<std::size_t>(pos)] = offset[static_cast<std::size_t>(b)] + t;
        real_pos.push_back(pos);
        restore[static_cast<std::size_t>(offset[static_cast<std::size_t>(b)] + t)] = out_row++;
      }
    }
    g.gather = torch::tensor(gather, long_cpu).to(mask.device());
    g.real = torch::tensor(real_pos, long_cpu).to(mask.device());
    auto seq_index = torch::tensor(seqs, long_cpu).to(mask.device());
    auto block_mask = r.mask.index_select(0, seq_index).narrow(1, 0, g.length);  // (size, length)
    g.bias = ((1.0 - block_mask) * large_negative).view({g.size, 1, 1, g.length});
    r.groups.push_back(std::move(g));
  }
  r.restore = torch::tensor(restore, long_cpu).to(mask.device());
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

torch::Tensor TokenRows::key_bias() const {
  return ((1.0 - mask) * large_negative).view({batch, 1, 1, length});  // (B, 1, 1, T)
}

torch::Tensor TokenRows::attend(const std::vector<torch::Tensor>& rows,
                                const PaddedAttention& f) const {
  std::vector<torch::Tensor> inputs;
  if (groups.empty()) {
    for (const auto& x : rows) inputs.push_back(pad(x));  // (B, T, C_i)
    return pack(f(inputs, key_bias()));                   // (N, C_out)
  }
  std::vector<torch::Tensor> outs;
  for (const auto& g : groups) {
    inputs.clear();
    for (const auto& x : rows) {
      inputs.push_back(x.index_select(0, g.gather).view({g.size, g.length, x.size(-1)}));
    }
    auto y = f(inputs, g.bias);                                                   // (size, length, C)
    outs.push_back(y.reshape({g.size * g.length, y.size(-1)}).index_select(0, g.real));  // (n, C)
  }
  return torch::cat(outs).index_select(0, restore);  // (N, C_out)
}

}  // namespace loid
