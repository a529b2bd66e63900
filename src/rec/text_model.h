// The parts the text baselines (rec/deepconn.h, rec/dattn.h, rec/anr.h) share: a batch of user and
// item documents, the model interface, the word-embedding table and the bias tables.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "rec/word_docs.h"

namespace loid {

// A batch of rows: each row's user document and item document, padded to the batch's longest.
struct DocBatch {
  torch::Tensor user_docs, item_docs;  // (B, T) int64 token ids, 0 = padding
  torch::Tensor user_mask, item_mask;  // (B, T) float 1 for a word, 0 for padding
  torch::Tensor users, items;          // (B) int64 dense ids
};

// Every model maps a batch of documents to unclamped ratings (B).
class TextRatingModelImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const DocBatch& batch) = 0;
};

// Sizes of a text model: vocabulary (ids incl. padding and unknown), word embedding, filters per
// window size, users and items; `mean` the training ratings' mean.
struct TextModelSizes {
  std::int64_t vocabulary = 0, embedding = 100, filters = 100;
  std::int64_t users = 0, items = 0;
  float mean = 3.0f;
};

// relu outputs x (B, F, L) and the mask of their window starts (B, >= L) -> (B, F): the max over
// real positions; 0 for an all-padding document. Since x >= 0, zeroing padded positions leaves the
// max over real positions unchanged.
torch::Tensor masked_max(const torch::Tensor& x, const torch::Tensor& mask);

// The shared word-embedding table (vocabulary x embedding, padding row 0 at zero): N(0, 0.1), or
// the rows of `wv` where it has a vector and the others at its own scale (wv may be null).
torch::nn::Embedding word_embedding(const TextModelSizes& s, const WordVectors* wv);

// A per-id bias table of n rows (at least 1), all zero.
torch::nn::Embedding bias_table(std::int64_t n);

}  // namespace loid
