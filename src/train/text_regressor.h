// Stage 1 of LoID and the Re-LoRA stage: a review's rating predicted from its own text vector
// (encoder with LoRA adapters -> MLP head -> rating, MSE). Only the encoder's trainable LoRA target
// and the head learn; the epoch is chosen on validation MSE and its weights restored.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nn/encoder.h"
#include "nn/precision.h"
#include "rec/rating_head.h"

namespace loid {

struct TextRegressorOptions {
  int epochs = 2;                // passes over the training reviews (upper bound)
  int patience = 1;              // epochs without a validation improvement before stopping
  std::int64_t batch_size = 32;  // reviews per step
  double learning_rate = 1e-3;   // Adam, adapters and head
  double weight_decay = 0.0;     // Adam L2
  std::uint64_t seed = 1;        // review order and dropout
  std::int64_t max_steps = 0;    // stop an epoch after this many steps (0 = whole epoch)
  bool progress = true;          // progress bars
  ComputeDtype dtype = ComputeDtype::kFloat32;  // bf16: forward passes under bf16 autocast
};

struct EpochRecord {
  int epoch = 0;                // 1-based
  double train_loss = 0.0;      // mean training MSE of the epoch's steps
  double validation_mse = 0.0;  // on clamped predictions
  double seconds = 0.0;         // wall time of the epoch (training + validation)
};

struct TextRegressorResult {
  int best_epoch = 0;  // 0 when no epoch beat the untrained model (weights left as they started)
  double initial_validation_mse = 0.0;  // before any training
  double best_validation_mse = 0.0;
  std::vector<EpochRecord> curve;
  std::int64_t steps = 0;
};

// Freezes every encoder parameter except the LoRA targets (inject_lora first), then trains the
// targets and `head` on (texts, ratings); keeps the state of the best validation epoch.
TextRegressorResult train_text_regressor(Encoder& encoder, RatingHead& head,
                                         const std::vector<std::string>& train_texts,
                                         const std::vector<float>& train_ratings,
                                         const std::vector<std::string>& validation_texts,
                                         const std::vector<float>& validation_ratings,
                                         const TextRegressorOptions& options);

// Predicted ratings clamped to [1, 5] (eval mode, no gradients, length-bucketed batches).
std::vector<float> predict_ratings(Encoder& encoder, RatingHead& head,
                                   const std::vector<std::string>& texts,
                                   std::int64_t batch_size = 64, bool progress = false,
                                   ComputeDtype dtype = ComputeDtype::kFloat32);

}  // namespace loid
