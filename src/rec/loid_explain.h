// Why a LoID model predicts a rating: the parts of one prediction (mean, biases, factors, text)
// and the attention weights the two IDs give their context reviews, per head and in total.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "rec/loid_model.h"

namespace loid {

struct LoidExplanation {
  // prediction = mean + user_bias + item_bias + factors + text (unclamped). Parts a model does not
  // have are 0 (biases without id_biases, factors without the mf+text predictor).
  float prediction = 0, mean = 0, user_bias = 0, item_bias = 0, factors = 0, text = 0;
  bool has_biases = false, has_factors = false;
  // The item's ID attending over the user's context reviews (what v_i reads): one row per head,
  // k weights each (0 on empty slots), and their mean over heads. Likewise the user's ID over the
  // item's context reviews (v_u).
  std::vector<std::vector<float>> user_reviews_by_head, item_reviews_by_head;
  std::vector<float> user_reviews_total, item_reviews_total;
};

// One pair: users, items (1) int64; user_text (1, k, D) with user_mask (1, k), item_text and
// item_mask likewise (the inputs of LoidModelImpl::forward). Eval-mode arithmetic without
// gradients (the model's mode is left as it was).
LoidExplanation explain_loid(LoidModelImpl& model, const torch::Tensor& users,
                             const torch::Tensor& items, const torch::Tensor& user_text,
                             const torch::Tensor& user_mask, const torch::Tensor& item_text,
                             const torch::Tensor& item_mask);

}  // namespace loid
