// The rating head MLP (see rating_head.h).
#include "rec/rating_head.h"

#include "core/error.h"

namespace loid {

RatingHeadImpl::RatingHeadImpl(std::int64_t in, std::int64_t hidden, double dropout_p,
                               float mean_rating) {
  if (in <= 0 || hidden <= 0) throw UsageError("rating head: sizes must be positive");
  fc1 = register_module("fc1", torch::nn::Linear(in, hidden));
  dropout = register_module("dropout", RowDropout(dropout_p));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, 1));
  mean = register_buffer("mean", torch::tensor(mean_rating, torch::kFloat32));
}

torch::Tensor RatingHeadImpl::forward(const torch::Tensor& vectors) {
  return fc2(dropout(torch::relu(fc1(vectors)))).squeeze(-1) + mean;
}

}  // namespace loid
