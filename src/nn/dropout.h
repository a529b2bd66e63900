// Inverted dropout with a fast, thread-count-independent mask.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace loid {

// Training-time dropout: each element of x kept with probability 1 - p and scaled by 1 / (1 - p),
// the others 0; differentiable in x (the gradient is masked the same way). The same distribution
// as torch::dropout, from another generator: libtorch 1.13 draws its CPU Bernoulli mask one
// element at a time from a locked Mersenne twister, which took a fifth of a LoRA training step.
// Here each element's draw is a hash (splitmix64) of a seed taken from torch's default (CPU)
// generator and the element's index: reproducible under torch::manual_seed, the same for any
// number of threads and on any device. On the CPU the mask is made by host threads
// (dropout_mask_host); on other devices by tensor ops on that device (dropout_mask_tensor), which
// give the same mask bit for bit. p <= 0 returns x itself; p >= 1 gives zeros.
torch::Tensor fast_dropout(const torch::Tensor& x, double p);

// The mask of fast_dropout for `numel` elements (flat, row-major), seed `seed`: 1 / (1 - p) where
// kept, 0 elsewhere; float32. 0 < p < 1.
// On the CPU, by host threads.
torch::Tensor dropout_mask_host(std::int64_t numel, double p, std::uint64_t seed);
// By element-wise int64 tensor ops on `device` (any device; the CPU too, for tests).
torch::Tensor dropout_mask_tensor(std::int64_t numel, double p, std::uint64_t seed,
                                  const torch::Device& device);

}  // namespace loid
