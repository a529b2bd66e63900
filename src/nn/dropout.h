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

// Data parallelism (train/distributed.h): while a BatchRowsScope is alive on this thread, the
// tensors that reach fast_dropout and row_dropout hold rows [first, first + rows) of a global batch
// of `global_rows` rows: their leading dimension runs over those rows, or, for an encoder's
// per-token layers, over the rows' real tokens packed in row order (nn/token_rows.h), when
// `tokens_before` (real tokens of the global batch's rows before `first`) and `tokens` (of the
// rows held) are given. The masks are then the global batch's masks cut to those rows, and the
// draws consumed from torch's generator are the global batch's, so each rank of a job applies the
// dropout one process would have applied to the same rows. A tensor whose leading dimension is
// both the token count and the row count (every held row one token long) is read as tokens.
class BatchRowsScope {
 public:
  BatchRowsScope(std::int64_t global_rows, std::int64_t first, std::int64_t rows,
                 std::int64_t tokens_before = 0, std::int64_t tokens = -1);
  ~BatchRowsScope();
  BatchRowsScope(const BatchRowsScope&) = delete;
  BatchRowsScope& operator=(const BatchRowsScope&) = delete;

 private:
  std::int64_t saved_[5];
};

// torch::dropout(x, p, training), with its draws from torch's default generator, when no
// BatchRowsScope is alive (bit for bit the same as torch::dropout on the CPU); within one, the
// global batch's Bernoulli noise is drawn and this tensor's rows of it applied. x: (rows, ...).
torch::Tensor row_dropout(const torch::Tensor& x, double p, bool training);

// A dropout layer that calls row_dropout (holds no parameter: a drop-in for torch::nn::Dropout).
class RowDropoutImpl : public torch::nn::Module {
 public:
  explicit RowDropoutImpl(double p) : p_(p) {}
  torch::Tensor forward(const torch::Tensor& x) { return row_dropout(x, p_, is_training()); }
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(RowDropout);

// The mask of fast_dropout for `numel` elements (flat, row-major), seed `seed`: 1 / (1 - p) where
// kept, 0 elsewhere; float32. 0 < p < 1.
// On the CPU, by host threads.
torch::Tensor dropout_mask_host(std::int64_t numel, double p, std::uint64_t seed);
// By element-wise int64 tensor ops on `device` (any device; the CPU too, for tests).
torch::Tensor dropout_mask_tensor(std::int64_t numel, double p, std::uint64_t seed,
                                  const torch::Device& device);

}  // namespace loid
