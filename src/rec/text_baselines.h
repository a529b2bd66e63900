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
// Shared defaults (all models): lowercase word tokens (rec/word_docs.h); vocabulary of the training
// words seen at least twice (at most 50,000; id 0 padding, 1 unknown); documents of at most 400
// tokens (a user's training reviews in time order, concatenated, cut at 400); one word-embedding
// table of 100-d shared by both towers (from scratch, N(0, 0.1), or initialised from word_vectors
// and fine-tuned); Adam (lr 2e-3 for deepconn, 1e-3 for dattn and anr), batch 64, at most 20
// epochs, patience 3 on validation MSE with best-epoch restore; predictions clamped to [1, 5].
// A cold user or item (no training review) has an all-padding document: padding embeds to zero and
// masks give it no weight, so its tower returns a fixed learned output (max-pools give 0, attention
// sums give 0) and its bias, never trained, stays 0.
//
// deepconn (Zheng et al. 2017): per tower embedding -> Conv1d(100 filters, window 3) + ReLU ->
//   max over time -> dropout 0.5 -> Linear(100 -> 50); z = [x_u, x_i] (100) -> factorisation
//   machine w0 + w.z + sum_{i<j} <v_i, v_j> z_i z_j with 8 factors; w0 starts at the training mean.
// dattn (Seo et al. 2017): per tower, local attention: a score per word from a Conv1d over the
//   5-word window centred on it, sigmoid, weighs the embeddings -> Conv1d(100, width 1) + ReLU ->
//   max-pool; global attention: a score per word (Linear, sigmoid), words scored below the
//   threshold 0.25 dropped and the others weighted by their score -> Conv1d(100 each, widths 2, 3,
//   4) + ReLU -> max-pool; [local, global] (400) -> dropout 0.5 -> Linear(200) + ReLU ->
//   Linear(50). rating = x_u . x_i + b_u + b_i + training mean (dot product with biases).
// anr (Chin et al. 2018): K = 5 aspects of size 10; per aspect a projection of the word embeddings
//   (100 -> 10) and an aspect-specific attention over a 3-word context window (softmax over the
//   document) -> aspect representations P_u, Q_i (K x 10); aspect importance by co-attention:
//   S = relu(P_u W_s Q_i^T), H_u = relu(P_u W_x + S Q_i W_y), H_i = relu(Q_i W_y + S^T P_u W_x)
//   (hidden 50), beta_u = softmax(H_u v_x), beta_i = softmax(H_i v_y) over aspects; rating =
//   sum_k beta_u[k] beta_i[k] (p_k . q_k) + b_u + b_i + training mean (dropout 0.5 on P_u, Q_i).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"

namespace loid {

struct TextBaselineOptions {
  std::string model;            // "deepconn" | "dattn" | "anr"
  std::uint64_t seed = 1;       // initialisation, batch order, dropout
  int threads = 0;              // torch intra-op threads (0 = leave torch's setting)
  bool progress = true;         // progress bars per epoch
  int max_epochs = 0;           // upper bound on epochs (0 = the model's default, 20)
  std::string word_vectors;     // optional JSON {"word": [floats...]} ("" = trained from scratch)
  std::int64_t doc_length = 0;  // tokens per user/item document (0 = default 400)
  std::int64_t embedding_size = 0;  // word embedding size (0 = default 100, or the vectors' size)
  std::int64_t filters = 0;         // convolution filters per window size (0 = default 100)
  int patience = 3;                 // epochs without a validation improvement before stopping
  std::int64_t batch_size = 64;     // rows per step
  double learning_rate = 0.0;       // Adam (0 = the model's default)
  std::int64_t min_count = 2;       // a training word enters the vocabulary at this frequency
  std::int64_t max_vocab = 50000;   // most frequent words kept
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
