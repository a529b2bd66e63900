// fast_dropout (see dropout.h).
#include "nn/dropout.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/parallel_items.h"

namespace loid {

namespace {

// SplitMix64: the i-th output of a generator started at `seed` is mix(seed + i * kGolden).
constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
constexpr std::uint64_t kMix1 = 0xbf58476d1ce4e5b9ULL;
constexpr std::uint64_t kMix2 = 0x94d049bb133111ebULL;
// An element is kept when the top 24 bits of its hash, as a fraction of 2^24, fall below 1 - p.
constexpr int kDrawShift = 40;

std::uint64_t splitmix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * kMix1;
  z = (z ^ (z >> 27)) * kMix2;
  return z ^ (z >> 31);
}

std::uint64_t keep_below(double p) {
  return static_cast<std::uint64_t>(std::llround((1.0 - p) * (1 << 24)));
}

// A 64-bit pattern as the int64 tensor ops hold it (two's complement).
std::int64_t as_signed(std::uint64_t v) {
  std::int64_t s;
  static_assert(sizeof s == sizeof v);
  std::memcpy(&s, &v, sizeof s);
  return s;
}

// z >> s as on unsigned 64-bit values, for int64 tensors (whose >> is arithmetic).
torch::Tensor logical_right_shift(const torch::Tensor& z, int s) {
  return z.bitwise_right_shift(s).bitwise_and(as_signed((~0ULL) >> s));
}

// The BatchRowsScope of this thread: global rows, first row, rows, tokens before, tokens (0 global
// rows = none; -1 tokens = not given).
thread_local std::int64_t g_batch_rows[5] = {0, 0, 0, 0, -1};

}  // namespace

BatchRowsScope::BatchRowsScope(std::int64_t global_rows, std::int64_t first, std::int64_t rows,
                               std::int64_t tokens_before, std::int64_t tokens) {
  std::memcpy(saved_, g_batch_rows, sizeof saved_);
  g_batch_rows[0] = global_rows;
  g_batch_rows[1] = first;
  g_batch_rows[2] = rows;
  g_batch_rows[3] = tokens_before;
  g_batch_rows[4] = tokens;
}

BatchRowsScope::~BatchRowsScope() {
  std::memcpy(g_batch_rows, saved_, sizeof saved_);
}

torch::Tensor row_dropout(const torch::Tensor& x, double p, bool training) {
  const std::int64_t global = g_batch_rows[0];
  if (global == 0 || !training || p <= 0.0 || p >= 1.0 || x.dim() == 0)
    return torch::dropout(x, p, training);
  const std::int64_t first = g_batch_rows[1], rows = g_batch_rows[2];
  if (x.size(0) != rows)
    throw std::logic_error("row_dropout: a tensor of " + std::to_string(x.size(0)) +
                           " rows inside a BatchRowsScope of " + std::to_string(rows));
  // As torch's CPU dropout: noise = bernoulli(1 - p) / (1 - p) of the input's shape, drawn in
  // order; here of the global batch's shape, then cut.
  auto sizes = x.sizes().vec();
  sizes[0] = global;
  auto noise = torch::empty(sizes, x.options().device(torch::kCPU));
  noise.bernoulli_(1 - p);
  noise.div_(1 - p);
  return x * noise.narrow(0, first, rows).to(x.device());
}

torch::Tensor dropout_mask_host(std::int64_t numel, double p, std::uint64_t seed) {
  const std::uint64_t below = keep_below(p);
  const float kept = static_cast<float>(1.0 / (1.0 - p));
  auto mask = torch::empty({numel}, torch::TensorOptions().dtype(torch::kFloat32));
  float* m = mask.data_ptr<float>();
  const std::int64_t chunk = 1 << 16;
  parallel_items(static_cast<std::size_t>((numel + chunk - 1) / chunk), [&](std::size_t c) {
    const std::int64_t begin = static_cast<std::int64_t>(c) * chunk;
    const std::int64_t end = std::min(numel, begin + chunk);
    for (std::int64_t i = begin; i < end; ++i) {
      const std::uint64_t draw =
          splitmix64(seed + static_cast<std::uint64_t>(i) * kGolden) >> kDrawShift;
      m[i] = draw < below ? kept : 0.0f;
    }
  });
  return mask;
}

torch::Tensor dropout_mask_tensor(std::int64_t numel, double p, std::uint64_t seed,
                                  const torch::Device& device) {
  // The same arithmetic as splitmix64 on int64 elements: additions and multiplications wrap
  // modulo 2^64 as on unsigned values, XOR is bitwise, and shifts are made logical.
  auto z = torch::arange(numel, torch::TensorOptions().dtype(torch::kInt64).device(device));
  z = z.mul(as_signed(kGolden)).add(as_signed(seed));
  z = z.bitwise_xor(logical_right_shift(z, 30)).mul(as_signed(kMix1));
  z = z.bitwise_xor(logical_right_shift(z, 27)).mul(as_signed(kMix2));
  z = z.bitwise_xor(logical_right_shift(z, 31));
  const auto draw = logical_right_shift(z, kDrawShift);  // 24 bits, non-negative
  const auto keep = draw.lt(static_cast<std::int64_t>(keep_below(p)));
  return keep.to(torch::kFloat32).mul(1.0 / (1.0 - p));
}

torch::Tensor fast_dropout(const torch::Tensor& x, double p) {
  if (p <= 0.0) return x;
  if (p >= 1.0) return x * 0;
  // Drawn on the CPU generator whatever x's device: the same masks under the same seed anywhere.
  const auto seed = static_cast<std::uint64_t>(
      torch::randint(std::numeric_limits<std::int64_t>::max(), {1}, torch::kInt64)
          .item<std::int64_t>());
  // Within a BatchRowsScope, x holds some rows of a global batch: its elements are those from
  // element first * (numel / rows) of the global batch's flat mask, which starts the hash there.
  std::uint64_t start = seed;
  if (g_batch_rows[0] != 0 && x.dim() > 0 && x.size(0) > 0) {
    const std::int64_t lead = x.size(0), per = x.numel() / lead;
    std::int64_t before = 0;  // leading-dimension entries of the global batch before this tensor's
    if (g_batch_rows[4] >= 0 && lead == g_batch_rows[4])
      before = g_batch_rows[3];
    else if (lead == g_batch_rows[2])
      before = g_batch_rows[1];
    else if (g_batch_rows[2] > 0 && lead % g_batch_rows[2] == 0)  // padded (rows, T): the caller
      before = g_batch_rows[1] * (lead / g_batch_rows[2]);        // pads to the global batch's T
    else
      throw std::logic_error("fast_dropout: a tensor of " + std::to_string(lead) +
                             " leading entries inside a BatchRowsScope of " +
                             std::to_string(g_batch_rows[2]) + " rows, " +
                             std::to_string(g_batch_rows[4]) + " tokens");
    start += static_cast<std::uint64_t>(before) * static_cast<std::uint64_t>(per) * kGolden;
  }
  const auto mask = x.device().is_cpu() ? dropout_mask_host(x.numel(), p, start)
                                        : dropout_mask_tensor(x.numel(), p, start, x.device());
  return x * mask.view(x.sizes()).to(x.scalar_type());
}

}  // namespace loid
