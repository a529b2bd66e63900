// The rating head of the Re-LoRA stage and of source plugins: an MLP from a review's text vector to
// its rating, saved in PEFT adapters as the module to save "rating_head".
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "nn/dropout.h"

namespace loid {

// rating = mean + fc2(dropout(relu(fc1(vector)))): the MLP on a review vector. `mean` (the
// training ratings' mean) is a buffer, so the MLP learns deviations from it. Saved in adapters as
// the PEFT module to save "rating_head".
class RatingHeadImpl : public torch::nn::Module {
 public:
  RatingHeadImpl(std::int64_t in, std::int64_t hidden, double dropout, float mean);
  torch::Tensor forward(const torch::Tensor& vectors);  // (B, in) -> (B)
  std::int64_t in_features() const { return fc1->options.in_features(); }
  std::int64_t hidden() const { return fc1->options.out_features(); }

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  RowDropout dropout{nullptr};  // torch::nn::Dropout, cut to a rank's rows in a job
  torch::Tensor mean;           // () float32
};
TORCH_MODULE(RatingHead);

// Name of the head in adapter files and state dicts.
constexpr const char* kRatingHeadName = "rating_head";

}  // namespace loid
