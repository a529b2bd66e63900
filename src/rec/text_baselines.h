// The review-text baselines of the paper's comparison, on the same data, split and metrics as
// LoID: DeepCoNN (Zheng et al. 2017), D-Attn (Seo et al. 2017) and ANR (Chin et al. 2018). Each
// reads a user document (the user's training reviews, concatenated) and an item document (the
// item's training reviews) and predicts the rating.
//
// Leak-free by construction: the vocabulary and every document are built from split.train only, and
// for a training row the row's own review is left out of both its user and item document (otherwise
// the model would read the text whose rating it predicts; at test time that text is never there).
// Validation and test reviews never enter a vocabulary, a document, or a gradient; validation
// ratings are used for early stopping only, and test rows are only predicted.
//
// Shared defaults (all models): lowercase word tokens (letters/digits/apostrophes), vocabulary of the
// training words seen at least twice (at most 50,000), document length 400 tokens (most recent
// reviews last, so truncation keeps the earliest words of the history in time order), word
// embeddings 100-d (from scratch, or initialised from word_vectors), Adam lr 1e-3 (2e-3 for
// deepconn), batch 64, at most 20 epochs with patience 3 on validation MSE and best-epoch restore,
// predictions clamped to [1, 5]. A cold user/item has an all-padding document: every model then
// falls back to a learned "empty document" path (padding embeds to zero, masks give zero weight).
//
// deepconn: per tower embedding -> Conv1d(100 filters, window 3) + ReLU -> max over time ->
//   dropout 0.5 -> Linear(100 -> 50); [x_u, x_i] (100) -> factorisation machine (factor size 8)
//   + global bias initialised at the training mean.
// dattn: per tower, local attention (window 5, one score per centre word from a Conv over the
//   window's embeddings, sigmoid) weighs embeddings -> Conv1d(100 filters, window 1) -> max-pool;
//   global attention (score per word, sigmoid, soft-gated: words with score below the batch
//   threshold 0.25 are shrunk by their score) weighs embeddings -> Conv1d(100 filters, windows 2,
//   3, 4) -> max-pool; [local, global] -> Linear -> dropout 0.5 -> ReLU -> Linear(50). rating =
//   x_u . x_i + b_u + b_i + mean (dot product with biases, as in the paper).
// anr: K = 5 aspects, aspect embedding 10-d; per aspect a projection of the word embeddings
//   (100 -> 10), a context-window (3) attention with an aspect-specific vector, softmax over the
//   document, sum -> aspect representation (B, K, 10) per user and item; co-attention through an
//   affinity matrix S = relu(U W_s I^T) (10x10 W_s) with hidden 10 gives importance softmaxes
//   beta_u, beta_i over aspects; rating = sum_k beta_u[k] beta_i[k] * (u_k . i_k) scaled +
//   b_u + b_i + mean (the paper's ARL + AIE + rating prediction; dropout 0.5 on aspect vectors).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"

namespace loid {

struct TextBaselineOptions {
  std::string model;          // "deepconn" | "dattn" | "anr"
  std::uint64_t seed = 1;     // initialisation, batch order, dropout
  int threads = 0;            // torch intra-op threads (0 = leave torch's setting)
  bool progress = true;       // progress bars per epoch
  int max_epochs = 0;         // upper bound on epochs (0 = the model's default, 20)
  std::string word_vectors;   // optional JSON {"word": [floats...]} ("" = trained from scratch)
  std::int64_t doc_length = 0;       // tokens per user/item document (0 = default 400)
  std::int64_t embedding_size = 0;   // word embedding size (0 = default 100, or the vectors' size)
  int patience = 3;                  // epochs without a validation improvement before stopping
  std::int64_t batch_size = 64;      // rows per step
  double learning_rate = 0.0;        // Adam (0 = the model's default)
  std::int64_t min_count = 2;        // a training word enters the vocabulary at this frequency
  std::int64_t max_vocab = 50000;    // most frequent words kept
};

struct TextBaselineResult {
  std::vector<float> validation_predictions;  // clamped to [1, 5], order of split.validation
  std::vector<float> test_predictions;        // clamped to [1, 5], order of split.test
  int best_epoch = 0;                         // epoch restored (0: no epoch beat the untrained)
  double best_validation_mse = 0.0;           // validation MSE of the restored epoch
  double seconds = 0.0;                       // wall time of the whole call
  std::int64_t vocabulary_size = 0;           // words including padding (0) and unknown (1)
  std::int64_t pretrained_words = 0;          // vocabulary words initialised from word_vectors
};

// Trains on split.train only (documents from training reviews only), early stopping on validation;
// throws UsageError for an unknown model (listing the valid names) or bad options, InputError for a
// malformed word-vector file.
TextBaselineResult train_text_baseline(const Dataset& dataset, const Split& split,
                                       const TextBaselineOptions& options);

// True for "deepconn", "dattn" and "anr".
bool is_text_baseline(const std::string& model);

// The valid model names, in a fixed order.
const std::vector<std::string>& text_baseline_names();

}  // namespace loid
