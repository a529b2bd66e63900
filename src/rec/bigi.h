// BiGI (Cao et al., WSDM 2021, "Bipartite Graph Embedding via Mutual Information Maximization") as
// a rating baseline: user and item embeddings refined on the user-item bipartite graph of the
// training edges, trained with the global-local mutual-information objective beside a rating head
// (the way the LoID paper used BiGI for rating prediction).
//
// What is kept of the paper: a GNN encoder over the bipartite graph (per layer, a node's
// representation and the mean of its neighbours' joined by a linear map and a LeakyReLU); a global
// representation of the graph (sigmoid of a linear map of the mean user and mean item
// representation); a local representation per edge (a linear map of the edge's user and item
// representations, then tanh); a bilinear discriminator that tells edges of the real graph from
// edges of a corrupted graph (every edge's item replaced by another edge's, so user degrees stay;
// the corrupted graph is encoded by the same encoder) against the global representation, with a
// binary cross-entropy loss. Simplified: the paper's local representation reads the h-hop
// enclosing subgraph of an edge through attention; here it is the edge's two endpoint
// representations, which after L layers already summarise their L-hop neighbourhoods.
// Rating head: mean + b_u + b_i + MLP([h_u, h_i, h_u * h_i]) (last layer zero at the start, so the
// untrained model predicts the training mean). Loss = MSE + mi_weight * BCE.
//
// Leak-free: the graph has the training edges only (unrated: an edge says that a user reviewed an
// item, never the rating), and a training batch's own edges are taken out of the graph for that
// step, so no training row is predicted from a graph that holds its own edge (held-out rows are
// never in the graph).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"
#include "rec/id_model.h"

namespace loid {

struct BigiOptions {
  std::uint64_t seed = 1;                                  // initialisation, batches, corruption
  std::vector<std::int64_t> dims = {32};                   // validation grid: embedding size
  std::vector<double> weight_decays = {1e-4, 1e-3, 1e-2};  // validation grid: Adam L2
  int layers = 2;                                          // GNN layers over the bipartite graph
  double mi_weight = 0.3;         // weight of the mutual-information (BCE) loss
  double learning_rate = 2e-3;    // Adam
  std::int64_t batch_size = 256;  // training rows per step
  int max_epochs = 60;            // upper bound per grid point
  int patience = 5;               // epochs without a validation improvement
  int threads = 0;                // torch intra-op threads (0 = leave torch's setting)
  bool progress = false;          // a progress bar per epoch
};

// The BiGI module over fixed training edges, exposed for tests.
class BigiImpl : public IdRatingModelImpl {
 public:
  // train: the training rows (their (user, item) pairs are the graph's edges); mean: the training
  // ratings' mean; dim: embedding size.
  BigiImpl(const RowTensors& train, std::int64_t num_users, std::int64_t num_items, float mean,
           std::int64_t dim, const BigiOptions& options);
  std::pair<torch::Tensor, torch::Tensor> train_forward(const torch::Tensor& rows) override;
  torch::Tensor predict(const torch::Tensor& users, const torch::Tensor& items) override;
  // Node representations ((U, d), (I, d)) over the graph of the given edges.
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& edge_users,
                                                 const torch::Tensor& edge_items);
  // The mutual-information loss on the graph of the given edges (a scalar).
  torch::Tensor mi_loss(const torch::Tensor& edge_users, const torch::Tensor& edge_items,
                        const torch::Tensor& hu, const torch::Tensor& hi);

 private:
  torch::Tensor rate(const torch::Tensor& hu, const torch::Tensor& hi, const torch::Tensor& users,
                     const torch::Tensor& items);

  torch::Tensor edge_users_, edge_items_;  // (E) the training edges
  std::int64_t num_users_, num_items_;
  float mean_;
  int layers_;
  double mi_weight_;
  torch::nn::Embedding user_embedding{nullptr}, item_embedding{nullptr};
  torch::nn::ModuleList user_layers{nullptr}, item_layers{nullptr};
  torch::nn::Linear global{nullptr}, local{nullptr};
  torch::nn::Bilinear discriminator{nullptr};
  torch::nn::Linear head_hidden{nullptr}, head_out{nullptr};
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};
};

// Trains BiGI on split.train (edges from training rows only) over the validation grid.
IdBaselineResult train_bigi(const Dataset& dataset, const Split& split, const BigiOptions& options);

}  // namespace loid
