// RGCL (Shuai et al., SIGIR 2022, "A Review-aware Graph Contrastive Learning Framework for
// Recommendation") as a rating baseline: a user-item graph whose edges carry the rating and the
// review's vector, node and edge contrastive losses, and a rating head.
//
// What is kept of the paper: review-aware graph learning (one layer over the training edges; the
// message along an edge of rating r is sigmoid(w_r . f_e) W_r h_j + f_e, where f_e is a linear map
// of the edge's review vector, with a weight matrix and a gate vector per rating level and the
// symmetric 1/sqrt(deg_u deg_i) normalisation); node representations [embedding, layer output];
// rating = mean + b_u + b_i + MLP([z_u, z_i]) (last layer zero at the start); node-level
// contrastive learning (two views of the graph by edge dropout, InfoNCE between the two views of
// the batch's users and of its items); edge-level contrastive learning (InfoNCE between an
// interaction's representation, a linear map of [z_u, z_i], and its review's representation f_e,
// against the other interactions of the batch). Loss = MSE + node_weight * node InfoNCE +
// edge_weight * edge InfoNCE. Simplified: the paper's review vectors come from BERT with
// whitening; here they come from our encoders (USE-Lite by default), unwhitened; a single graph
// layer and no per-rating-level summation of layer outputs.
//
// Leak-free: the graph holds the training edges only, with training reviews' vectors only (the
// vector table's held-out rows are never read); a training batch's own edges are out of the graph
// for its step, so a training row is never predicted from its own review or rating. Its own review
// does serve as the target of the edge-contrastive term (never as an input of its prediction): the
// paper's way of teaching interactions what their reviews say, which a held-out pair, whose review
// is unknown, then predicts without.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"
#include "rec/id_model.h"

namespace loid {

struct RgclOptions {
  std::uint64_t seed = 1;                                  // initialisation, batches, dropout
  std::vector<std::int64_t> dims = {32};                   // validation grid: embedding size
  std::vector<double> weight_decays = {1e-4, 1e-3, 1e-2};  // validation grid: Adam L2
  double node_weight = 0.05;      // weight of the node-level contrastive loss
  double edge_weight = 0.05;      // weight of the edge-level contrastive loss
  double temperature = 0.2;       // InfoNCE temperature of both contrastive losses
  double edge_dropout = 0.2;      // share of edges dropped in each contrastive view
  double learning_rate = 2e-3;    // Adam
  std::int64_t batch_size = 256;  // training rows per step
  int max_epochs = 60;            // upper bound per grid point
  int patience = 5;               // epochs without a validation improvement
  int threads = 0;                // torch intra-op threads (0 = leave torch's setting)
  bool progress = false;          // a progress bar per epoch
};

// The RGCL module over fixed training edges, exposed for tests.
class RgclImpl : public IdRatingModelImpl {
 public:
  // train: the training rows (the graph's edges, with their ratings); vectors (E, D): their
  // reviews' vectors in the same order; mean: the training ratings' mean; dim: embedding size.
  RgclImpl(const RowTensors& train, const torch::Tensor& vectors, std::int64_t num_users,
           std::int64_t num_items, float mean, std::int64_t dim, const RgclOptions& options);
  std::pair<torch::Tensor, torch::Tensor> train_forward(const torch::Tensor& rows) override;
  torch::Tensor predict(const torch::Tensor& users, const torch::Tensor& items) override;
  // Node representations ((U, 2d), (I, 2d)) over the graph of the given training edges ((E') int64
  // indices into the training rows).
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& edges);

 private:
  torch::Tensor rate(const torch::Tensor& zu, const torch::Tensor& zi, const torch::Tensor& users,
                     const torch::Tensor& items);

  torch::Tensor edge_users_, edge_items_, edge_levels_, vectors_;  // (E), (E), (E), (E, D)
  torch::Tensor seen_users_, seen_items_;                          // (U), (I) bool
  std::int64_t num_users_, num_items_;
  float mean_;
  RgclOptions options_;
  torch::nn::Embedding user_embedding{nullptr}, item_embedding{nullptr};
  torch::nn::Linear review{nullptr};       // D -> d: f_e
  torch::Tensor level_weights;             // (5, d, d) W_r
  torch::Tensor level_gates;               // (5, d) w_r
  torch::nn::Linear interaction{nullptr};  // 4d -> d: the edge-contrastive interaction
  torch::nn::Linear head_hidden{nullptr}, head_out{nullptr};
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};
};

// Trains RGCL on split.train. vectors: (R, D) review vectors by review id; only the rows of
// split.train are read (the others may hold anything). Throws UsageError for bad options or a
// table whose row count is not the dataset's review count.
IdBaselineResult train_rgcl(const Dataset& dataset, const Split& split,
                            const torch::Tensor& vectors, const RgclOptions& options);

}  // namespace loid
