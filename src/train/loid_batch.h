// Turning rows and their review contexts into the LoID model's input tensors, and batched
// prediction with fixed evaluation contexts (shared by training, evaluation and serving).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/context.h"
#include "rec/loid_model.h"

namespace loid {

struct LoidInputs {
  torch::Tensor users, items;          // (B) int64
  torch::Tensor user_text, user_mask;  // (B, k, D), (B, k)
  torch::Tensor item_text, item_mask;
};

// `vectors` is a (R, D) table whose row r is the text vector of review r (rows never referenced
// may hold anything). Context ids of -1 are masked out.
LoidInputs make_inputs(const std::vector<std::int64_t>& users,
                       const std::vector<std::int64_t>& items, const ContextBatch& contexts,
                       const torch::Tensor& vectors);

// Predictions (clamped to [1, 5] unless `clamp` is false) for rows (users[r], items[r]) with the
// sampler's evaluation contexts (fixed by `context_seed`), in batches; eval mode and no gradients
// for the duration.
std::vector<float> predict_rows(LoidModel& model, const ContextSampler& sampler,
                                const std::vector<std::int64_t>& users,
                                const std::vector<std::int64_t>& items,
                                const torch::Tensor& vectors, std::uint64_t context_seed,
                                std::int64_t batch_size = 256, bool clamp = true);

}  // namespace loid
