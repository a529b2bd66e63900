// fast_dropout (see dropout.h).
#include "nn/dropout.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/parallel_items.h"

namespace loid {

namespace {

std::uint64_t splitmix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

torch::Tensor fast_dropout(const torch::Tensor& x, double p) {
  if (p <= 0.0) return x;
  if (p >= 1.0) return x * 0;
  const auto seed = static_cast<std::uint64_t>(
      torch::randint(std::numeric_limits<std::int64_t>::max(), {1}, torch::kInt64)
          .item<std::int64_t>());
  // An element is kept when the top 24 bits of its hash, as a fraction of 2^24, fall below 1 - p.
  const auto keep_below = static_cast<std::uint64_t>(std::llround((1.0 - p) * (1 << 24)));
  const float kept = static_cast<float>(1.0 / (1.0 - p));
  auto mask = torch::empty(x.sizes(), torch::TensorOptions().dtype(torch::kFloat32));
  float* m = mask.data_ptr<float>();
  const std::int64_t n = mask.numel(), chunk = 1 << 16;
  parallel_items(static_cast<std::size_t>((n + chunk - 1) / chunk), [&](std::size_t c) {
    const std::int64_t begin = static_cast<std::int64_t>(c) * chunk;
    const std::int64_t end = std::min(n, begin + chunk);
    for (std::int64_t i = begin; i < end; ++i) {
      // SplitMix64's own stream: the i-th state of a generator started at `seed`.
      const std::uint64_t draw =
          splitmix64(seed + static_cast<std::uint64_t>(i) * 0x9e3779b97f4a7c15ULL) >> 40;
      m[i] = draw < keep_below ? kept : 0.0f;
    }
  });
  return x * mask.to(x.device(), x.scalar_type());
}

}  // namespace loid
