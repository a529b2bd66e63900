// Inverted dropout with a fast, thread-count-independent mask.
#pragma once

#include <torch/torch.h>

namespace loid {

// Training-time dropout: each element of x kept with probability 1 - p and scaled by 1 / (1 - p),
// the others 0; differentiable in x (the gradient is masked the same way). The same distribution
// as torch::dropout, from another generator: libtorch 1.13 draws its CPU Bernoulli mask one
// element at a time from a locked Mersenne twister, which took a fifth of a LoRA training step.
// Here each element's draw is a hash (splitmix64) of a seed taken from torch's default generator
// and the element's index: reproducible under torch::manual_seed, the same for any number of
// threads, and made on all of them. p <= 0 returns x itself; p >= 1 gives zeros.
torch::Tensor fast_dropout(const torch::Tensor& x, double p);

}  // namespace loid
