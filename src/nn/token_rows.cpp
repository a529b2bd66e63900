// TokenRows: packing the real tokens of a padded batch, and attention by length groups (see
// token_rows.h).
#include "nn/token_rows.h"

#include "core/blas.h"
#include "core/parallel_items.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <numeric>
#include <string>

namespace loid {

namespace {

std::atomic<bool>& packed_attention_switch() {
  static std::atomic<bool> on{[] {
    const char* v = std::getenv("LOID_PACKED_ATTENTION");
    return v == nullptr || std::string(v) != "0";
  }()};
  return on;
}

// OpenBLAS on one thread while it lives: the blocks of attend_packed are small, and OpenBLAS's
// own threads would only contend with the threads running them. Calls may overlap (several
// requests in `loid serve`): the first one in sets one thread, the last one out restores the count.
class OneBlasThread {
 public:
  OneBlasThread() {
    std::lock_guard<std::mutex> lock(mutex());
    if (state().active++ == 0) {
      state().saved = blas_thread_count();
      if (state().saved > 1) set_blas_thread_count(1);
    }
  }
  ~OneBlasThread() {
    std::lock_guard<std::mutex> lock(mutex());
    if (--state().active == 0 && state().saved > 1) set_blas_thread_count(state().saved);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  struct State {
    int active = 0, saved = 0;
  };
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static State& state() {
    static State s;
    return s;
  }
};

}  // namespace

bool packed_attention_enabled() {
  return packed_attention_switch().load();
}
void set_packed_attention_enabled(bool enabled) {
  packed_attention_switch().store(enabled);
}

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
  r.packed_attention = packed_attention_enabled();
  r.mask = mask.is_floating_point() ? mask : mask.to(torch::kFloat32);
  auto flat = mask.reshape({-1}).ne(0);  // (B T)
  if (flat.all().item<bool>()) {
    r.lengths.assign(static_cast<std::size_t>(r.batch), r.length);
    return r;
  }
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
  r.lengths = lengths;
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
    auto y = f(inputs, g.bias);  // (size, length, C)
    outs.push_back(y.reshape({g.size * g.length, y.size(-1)}).index_select(0, g.real));  // (n, C)
  }
  return torch::cat(outs).index_select(0, restore);  // (N, C_out)
}

namespace {

// Where attend_packed's work lies: the sequences with real tokens, longest first so that the
// threads finish together, and each one's (h, L, L) probabilities in one flat buffer.
struct PackedLayout {
  std::vector<std::int64_t> first, length, probs_at;  // per sequence: first row, L, offset
  std::int64_t probs_size = 0;
  // Sequence i's (h, L, L) block of the flat probabilities.
  torch::Tensor probs_of(const torch::Tensor& probs, std::size_t i, std::int64_t heads) const {
    const auto n = length[i];
    return probs.narrow(0, probs_at[i], heads * n * n).view({heads, n, n});
  }
};

PackedLayout packed_layout(const std::vector<std::int64_t>& lengths, std::int64_t rows,
                           std::int64_t heads) {
  std::vector<std::pair<std::int64_t, std::int64_t>> seqs;  // (first row, length)
  std::int64_t offset = 0;
  for (auto n : lengths) {
    if (n > 0) seqs.emplace_back(offset, n);
    offset += n;
  }
  TORCH_CHECK(offset == rows, "TokenRows::attend_packed: ", rows, " rows for ", offset, " tokens");
  std::stable_sort(seqs.begin(), seqs.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  PackedLayout p;
  for (const auto& [first, n] : seqs) {
    p.first.push_back(first);
    p.length.push_back(n);
    p.probs_at.push_back(p.probs_size);
    p.probs_size += heads * n * n;
  }
  return p;
}

// Row-major (L, c) with leading dimension ld is column-major (c, L), so each product below is one
// column-major sgemm on the blocks as they lie (q, k, v of head j at columns j dh, W + j dh,
// 2W + j dh of the (N, 3W) rows; outputs at j dh of (N, W)):
//   S = a Q K^T     S^T  = a K Q^T     sgemm(T, N) on K, Q
//   O = P V         O^T  = V^T P^T     sgemm(N, N) on V, P
//   dP = dO V^T     dP^T = V dO^T      sgemm(T, N) on V, dO
//   dV = P^T dO     dV^T = dO^T P      sgemm(N, T) on dO, P
//   dQ = a dS K     dQ^T = a K^T dS^T  sgemm(N, N) on K, dS
//   dK = a dS^T Q   dK^T = a Q^T dS    sgemm(N, T) on Q, dS
struct PackedGeometry {
  std::int64_t width = 0, heads = 0;
  int dh = 0, ld_in = 0, ld_out = 0;
  float scale = 1.0f;
  PackedGeometry(std::int64_t qkv_width, std::int64_t heads_, double scale_)
      : width(qkv_width / 3), heads(heads_), scale(static_cast<float>(scale_)) {
    TORCH_CHECK(heads > 0 && width % heads == 0, "TokenRows::attend_packed: width ", width,
                " not divisible by ", heads, " heads");
    dh = static_cast<int>(width / heads);
    ld_in = static_cast<int>(3 * width);
    ld_out = static_cast<int>(width);
  }
};

// -> (out (N, W), probabilities (flat)).
std::pair<torch::Tensor, torch::Tensor> packed_forward(const torch::Tensor& qkv,
                                                       const PackedLayout& p,
                                                       const PackedGeometry& g) {
  auto out = torch::empty({qkv.size(0), g.width}, qkv.options());
  auto probs = torch::empty({p.probs_size}, qkv.options());
  const float* in = qkv.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const SgemmFn sgemm = blas_sgemm();
  const float one = 1.0f, zero = 0.0f;
  auto one_sequence = [&](std::size_t i) {
    const auto first = p.first[i], n = p.length[i];
    const int L = static_cast<int>(n);
    auto scores = torch::empty({g.heads, n, n}, qkv.options());  // (h, L, L)
    float* sc = scores.data_ptr<float>();
    for (std::int64_t h = 0; h < g.heads; ++h) {
      const float* q = in + first * g.ld_in + h * g.dh;
      sgemm("T", "N", &L, &L, &g.dh, &g.scale, q + g.width, &g.ld_in, q, &g.ld_in, &zero,
            sc + h * n * n, &L);
    }
    auto pr = p.probs_of(probs, i, g.heads);
    at::_softmax_out(pr, scores, -1, false);  // serial inside the parallel region
    const float* pp = pr.data_ptr<float>();
    for (std::int64_t h = 0; h < g.heads; ++h) {
      const float* v = in + first * g.ld_in + 2 * g.width + h * g.dh;
      sgemm("N", "N", &g.dh, &L, &L, &one, v, &g.ld_in, pp + h * n * n, &L, &zero,
            o + first * g.ld_out + h * g.dh, &g.ld_out);
    }
  };
  parallel_items(p.first.size(), one_sequence);
  return {out, probs};
}

// -> d qkv (N, 3W) from d out (N, W).
torch::Tensor packed_backward(const torch::Tensor& qkv, const torch::Tensor& probs,
                              const torch::Tensor& grad_out, const PackedLayout& p,
                              const PackedGeometry& g) {
  auto grad_qkv = torch::empty_like(qkv);  // every row belongs to one sequence: all written
  const float* in = qkv.data_ptr<float>();
  const float* dout = grad_out.data_ptr<float>();
  float* dqkv = grad_qkv.data_ptr<float>();
  const SgemmFn sgemm = blas_sgemm();
  const float one = 1.0f, zero = 0.0f;
  auto one_sequence = [&](std::size_t i) {
    const auto first = p.first[i], n = p.length[i];
    const int L = static_cast<int>(n);
    auto pr = p.probs_of(probs, i, g.heads);
    const float* pp = pr.data_ptr<float>();
    auto dp = torch::empty({g.heads, n, n}, qkv.options());  // (h, L, L)
    float* dpp = dp.data_ptr<float>();
    for (std::int64_t h = 0; h < g.heads; ++h) {
      const float* q = in + first * g.ld_in + h * g.dh;
      const float* v = q + 2 * g.width;
      const float* d = dout + first * g.ld_out + h * g.dh;
      float* dv = dqkv + first * g.ld_in + 2 * g.width + h * g.dh;
      sgemm("T", "N", &L, &L, &g.dh, &one, v, &g.ld_in, d, &g.ld_out, &zero, dpp + h * n * n, &L);
      sgemm("N", "T", &g.dh, &L, &L, &one, d, &g.ld_out, pp + h * n * n, &L, &zero, dv, &g.ld_in);
    }
    auto ds = at::_softmax_backward_data(dp, pr, -1, torch::kFloat32);  // (h, L, L)
    const float* dsp = ds.data_ptr<float>();
    for (std::int64_t h = 0; h < g.heads; ++h) {
      const float* q = in + first * g.ld_in + h * g.dh;
      const float* k = q + g.width;
      float* dq = dqkv + first * g.ld_in + h * g.dh;
      float* dk = dq + g.width;
      sgemm("N", "N", &g.dh, &L, &L, &g.scale, k, &g.ld_in, dsp + h * n * n, &L, &zero, dq,
            &g.ld_in);
      sgemm("N", "T", &g.dh, &L, &L, &g.scale, q, &g.ld_in, dsp + h * n * n, &L, &zero, dk,
            &g.ld_in);
    }
  };
  parallel_items(p.first.size(), one_sequence);
  return grad_qkv;
}

// Differentiable once (its backward is not itself differentiable).
class PackedAttentionFunction : public torch::autograd::Function<PackedAttentionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv,
                               const std::vector<std::int64_t>& lengths, std::int64_t heads,
                               double scale) {
    const PackedGeometry g(qkv.size(1), heads, scale);
    const auto layout = packed_layout(lengths, qkv.size(0), heads);
    const OneBlasThread one_blas_thread;
    auto [out, probs] = packed_forward(qkv, layout, g);
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["lengths"] = lengths;
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["scale"] = scale;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    if (!grads[0].defined()) return {torch::zeros_like(saved[0]), {}, {}, {}};
    const auto heads = ctx->saved_data["heads"].toInt();
    const PackedGeometry g(saved[0].size(1), heads, ctx->saved_data["scale"].toDouble());
    const auto layout =
        packed_layout(ctx->saved_data["lengths"].toIntVector(), saved[0].size(0), heads);
    const OneBlasThread one_blas_thread;
    auto grad = packed_backward(saved[0], saved[1], grads[0].contiguous(), layout, g);
    return {grad, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool TokenRows::packs_attention() const {
  // A host-BLAS kernel: batches on other devices take the padded path (attend).
  return packed_attention && !lengths.empty() && (!mask.defined() || mask.device().is_cpu()) &&
         blas_sgemm() != nullptr;
}

bool TokenRows::can_attend_packed(const torch::Tensor& qkv) const {
  return packs_attention() && qkv.dim() == 2 && qkv.size(1) % 3 == 0 &&
         qkv.scalar_type() == torch::kFloat32 && qkv.device().is_cpu() && qkv.is_contiguous() &&
         qkv.size(1) * qkv.size(0) < std::numeric_limits<int>::max();
}

torch::Tensor TokenRows::attend_packed(const torch::Tensor& qkv, std::int64_t heads,
                                       double scale) const {
  TORCH_CHECK(can_attend_packed(qkv), "TokenRows::attend_packed: unsupported input");
  if (torch::GradMode::is_enabled() && qkv.requires_grad()) {
    return PackedAttentionFunction::apply(qkv, lengths, heads, scale);
  }
  const PackedGeometry g(qkv.size(1), heads, scale);
  const OneBlasThread one_blas_thread;
  return packed_forward(qkv, packed_layout(lengths, qkv.size(0), heads), g).first;
}

}  // namespace loid
