// The LoID recommender: trainable user and item ID embeddings attend over the text vectors of the
// other side's reviews (the item's ID over the user's reviews, the user's ID over the item's), a
// triplet loss aligns the attended text with the ID embeddings, and an MLP on [v_u, v_i] predicts
// the rating.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/dropout.h"

namespace loid {

// What the prediction is made of.
enum class LoidPredictor {
  kMlp,     // the paper's: mean + MLP([v_u, v_i]) (+ b_u + b_i with id_biases)
  kMfText,  // mean + b_u + b_i + f_u . f_i + MLP([v_u, v_i]): a biased MF with a text part
};
std::string to_string(LoidPredictor predictor);  // "mlp", "mf+text"
// Throws UsageError naming the valid values.
LoidPredictor parse_loid_predictor(const std::string& name);

struct LoidModelOptions {
  std::int64_t num_users = 0;   // known (trained) users; id num_users is the "unknown user" row
  std::int64_t num_items = 0;   // known items; id num_items is the "unknown item" row
  std::int64_t text_width = 0;  // D of the review vectors
  std::int64_t embed_size = 0;  // size of ID embeddings and attention; 0 = text_width
  std::int64_t heads = 4;       // attention heads (must divide embed_size)
  std::int64_t hidden = 256;    // prediction MLP hidden width
  double dropout = 0.1;         // in the prediction MLP and on attention weights
  float mean_rating = 3.0f;     // the MLP predicts deviations from this (training mean)
  bool id_biases = false;       // add trained user and item biases to the prediction (not in the
                                // paper; off by default)
  LoidPredictor predictor = LoidPredictor::kMlp;
  std::int64_t mf_factors = 0;  // kMfText: size of the factor vectors f_u, f_i (>= 0)
  // kMfText, > 0: text factors. The factors become f_u + T_u z_u and f_i + T_i z_i, where z_u is
  // the mean of the user's context review vectors, whitened to this many dimensions (the buffers
  // text_mean and text_basis, set by set_text_whitening), and T_u, T_i are trained maps that start
  // at zero. A user's tastes then come from what its reviews talk about, not only from its few
  // ratings. 0 = off. Not in the paper.
  std::int64_t text_factors = 0;
  // kMfText: the training penalty (LoidModelImpl::penalty): L2 on the biases and ID factors of a
  // batch's rows, as the fitted MF had (MfOptions::regularization) ...
  double mf_regularization = 0.0;
  // ... and on the text-factor maps T_u, T_i (sum of squares).
  double text_factor_regularization = 0.0;
};

// Multi-head attention of one query vector per row over up to k key/value vectors, with a mask.
// A row whose mask is all zero attends to nothing: its context is zero and the output is the
// output projection's bias (a learned "no reviews" vector).
class IdTextAttentionImpl : public torch::nn::Module {
 public:
  IdTextAttentionImpl(std::int64_t width, std::int64_t heads, double dropout);
  // query (B, E), keys (B, k, E), mask (B, k) float 1/0 -> (B, E)
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& keys,
                        const torch::Tensor& mask);
  // The attention weights forward() uses, before dropout: (B, heads, k), each head's weights
  // summing to 1 over the unmasked slots (all zero for a row with no reviews).
  torch::Tensor weights(const torch::Tensor& query, const torch::Tensor& keys,
                        const torch::Tensor& mask);
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
  RowDropout dropout{nullptr};  // torch::nn::Dropout, cut to a rank's rows in a job
  std::int64_t heads;
};
TORCH_MODULE(IdTextAttention);

struct LoidOutput {
  torch::Tensor prediction;  // (B) unclamped rating
  torch::Tensor v_u, v_i;    // (B, E) attended text of the item's reviews / the user's reviews
  torch::Tensor p_u, p_i;    // (B, E) ID embeddings
};

class LoidModelImpl : public torch::nn::Module {
 public:
  explicit LoidModelImpl(const LoidModelOptions& options);

  // users, items: (B) int64, ids >= num_users / num_items (or < 0) use the unknown row.
  // user_text: (B, k, D) vectors of the user's context reviews; user_mask (B, k) float 1/0;
  // item_text and item_mask likewise.
  LoidOutput forward(const torch::Tensor& users, const torch::Tensor& items,
                     const torch::Tensor& user_text, const torch::Tensor& user_mask,
                     const torch::Tensor& item_text, const torch::Tensor& item_mask);

  const LoidModelOptions& options() const { return options_; }

  torch::nn::Embedding user_embedding{nullptr}, item_embedding{nullptr};
  torch::nn::Linear text_projection{nullptr};  // D -> E when they differ
  IdTextAttention item_over_user{nullptr};     // v_i = Attention(p_i; user's reviews)
  IdTextAttention user_over_item{nullptr};     // v_u = Attention(p_u; item's reviews)
  torch::nn::Sequential predictor{nullptr};    // [v_u, v_i] -> hidden -> ReLU -> dropout -> 1
  // The predictor's first and last layers by name (the same modules as its entries 0 and 3, whose
  // parameter names, predictor.0.* and predictor.3.*, are what run files hold).
  torch::nn::Linear predictor_hidden{nullptr}, predictor_out{nullptr};
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};  // when id_biases or kMfText
  // kMfText: the MF factors f_u, f_i (rows num_users / num_items are the unknown ids, kept zero).
  torch::nn::Embedding user_factors{nullptr}, item_factors{nullptr};
  // text_factors > 0: the maps T_u, T_i (text_factors -> mf_factors, no bias) and the whitening
  // of review vectors: z = text_basis (x - text_mean), buffers (D) and (text_factors, D).
  torch::nn::Linear user_text_factors{nullptr}, item_text_factors{nullptr};
  torch::Tensor text_mean, text_basis;
  torch::Tensor mean;  // buffer ()

  // The training penalty of a batch's rows (users, items: (B) int64): mf_regularization times
  // the mean over rows of b_u^2 + b_i^2 + |f_u|^2 + |f_i|^2, plus text_factor_regularization times
  // |T_u|^2 + |T_i|^2. Zero for the mlp predictor.
  torch::Tensor penalty(const torch::Tensor& users, const torch::Tensor& items);
  // The penalty in the two parts a rank of a data-parallel job adds up (train/distributed.h):
  // mf_regularization times the SUM over the given rows, and the part that does not depend on the
  // rows (the text-factor maps' term). penalty = rows_sum / B + global for a batch of B rows.
  torch::Tensor penalty_rows_sum(const torch::Tensor& users, const torch::Tensor& items);
  torch::Tensor penalty_global();
  // Whitened mean of a side's context vectors: (B, k, D), mask (B, k) -> (B, text_factors); a row
  // with no reviews gives zero.
  torch::Tensor text_factor_input(const torch::Tensor& text, const torch::Tensor& mask) const;

  // Ids outside [0, known) become `known`, the unknown row.
  torch::Tensor clamp_ids(const torch::Tensor& ids, std::int64_t known) const;

 private:
  LoidModelOptions options_;
};
TORCH_MODULE(LoidModel);

// PCA whitening of review vectors (R, D), computed in double: the mean (D) and the top `dims`
// principal directions, each divided by its standard deviation, as rows (dims, D). Directions
// beyond the data's rank (or beyond D) are zero rows.
std::pair<torch::Tensor, torch::Tensor> text_whitening(const torch::Tensor& vectors,
                                                       std::int64_t dims);
// Sets the model's text_mean and text_basis from text_whitening(vectors, options().text_factors).
void set_text_whitening(LoidModelImpl& model, const torch::Tensor& vectors);

// LoID's predictions for known users and items whose review contexts are fixed (evaluation and
// serving), with everything that does not depend on the pair computed once: per user and per item
// the attention query of its ID embedding, the key projections of its context reviews, and their
// value projections carried through the attention's output projection and the prediction MLP's
// first layer (one `hidden`-vector per review and head). A pair then costs two k-length attentions
// and the MLP's last layer, about (2 k E + 2 k heads hidden + hidden) multiply-adds, in plain
// loops: no torch call, no allocation beyond one scratch vector, read-only (safe from any thread).
// Equal to LoidModelImpl::forward in eval mode up to float rounding (folding the projections
// reorders sums; about 1e-6 on a rating).
class LoidPrecomputed {
 public:
  LoidPrecomputed() = default;
  // user_contexts: num_users * k review ids, row-major, the fixed context of each known user
  // (-1 = no review in that slot); item_contexts likewise for the known items; vectors (R, D)
  // review vectors indexed by those ids. Reads the model's weights (any mode; no gradients).
  LoidPrecomputed(LoidModelImpl& model, const std::vector<std::int64_t>& user_contexts,
                  const std::vector<std::int64_t>& item_contexts, std::size_t k,
                  const torch::Tensor& vectors);

  // Unclamped predictions for rows (users[r], items[r]), n rows into out[0..n). Every id must be
  // known (0 <= user < num_users(), 0 <= item < num_items()); throws UsageError otherwise.
  void predict(const std::int64_t* users, const std::int64_t* items, std::size_t n,
               float* out) const;
  float predict(std::int64_t user, std::int64_t item) const;

  std::int64_t num_users() const { return users_.rows(); }
  std::int64_t num_items() const { return items_.rows(); }
  std::size_t bytes() const;  // memory held by the tables

 private:
  // One side's tables: its rows' queries into the other side's contexts, and its own contexts.
  struct Side {
    std::vector<float> query;         // (rows, E) q(ID embedding) of the other side's attention
    std::vector<std::int64_t> start;  // (rows + 1) first slot of each row's context
    std::vector<float> keys;          // (slots, E) k(review vector), this side's attention
    std::vector<float> values;        // (slots, heads, hidden) W1 half . o . v(review), per head
    std::int64_t rows() const { return static_cast<std::int64_t>(start.size()) - 1; }
  };
  Side build_side(LoidModelImpl& model, const std::vector<std::int64_t>& contexts, std::size_t k,
                  const torch::Tensor& vectors, const torch::Tensor& id_weight,
                  IdTextAttentionImpl& query_attention, IdTextAttentionImpl& context_attention,
                  const torch::Tensor& first_layer_half) const;
  // acc += the first-layer contribution of `query` attending over row `row` of `side`.
  void attend(const float* query, const Side& side, std::int64_t row, float* acc,
              float* scores) const;

  std::int64_t width_ = 0, heads_ = 0, hidden_ = 0;
  std::size_t k_ = 0;
  float scale_ = 1;                           // 1 / sqrt(head width)
  Side users_, items_;                        // users_ queries attend over items_ contexts and back
  std::vector<float> hidden_bias_;            // (hidden) b1 + W1 [o_u.bias; o_i.bias]
  std::vector<float> out_weight_;             // (hidden) the MLP's last layer
  float out_bias_ = 0;                        // its bias + the mean rating
  std::vector<float> user_bias_, item_bias_;  // (rows) when id_biases, else empty
  std::int64_t factors_ = 0;                  // kMfText: factor size, else 0
  std::vector<float> user_factors_, item_factors_;  // (rows, factors_)
};

// Triplet loss with squared L2 distance and margin: anchor v_i, positive p_u of the same row,
// negative p_u of another row (the row `shift` places later, cyclically); plus the same for v_u
// with p_i. Mean over rows of both terms' sum. Batches of one row give zero.
torch::Tensor triplet_loss(const LoidOutput& out, double margin, std::int64_t shift = 1);
// The same terms summed (not averaged) over the rows of `out`, each row's negatives given: the ID
// embeddings of the row before it in the global batch (what triplet_loss's roll by 1 picks), so
// that a rank holding some rows of a batch computes its part of the global batch's loss.
torch::Tensor triplet_loss_sum(const LoidOutput& out, const torch::Tensor& negative_p_u,
                               const torch::Tensor& negative_p_i, double margin);

}  // namespace loid
