// ALFM (Cheng et al., WWW 2018, "Aspect-Aware Latent Factor Model: Rating Prediction with Ratings
// and Reviews") as a rating baseline: aspects are topics of the training reviews; a user's and an
// item's aspect importance come from the topics of their training reviews; the rating is a sum over
// aspects of aspect ratings from latent factors, weighted by how much the pair cares about each
// aspect.
//
// What is kept of the paper: a topic model over the review text gives each user and each item a
// distribution over A aspects (rho_u, rho_i); the pair's aspect weight is rho_u[a] rho_i[a],
// normalised over aspects; the aspect rating is an aspect-specific interaction of latent factors,
// (m_a * p_u) . q_i with a learned weighting m_a of the K factors per aspect; rating = mean + b_u +
// b_i + sum_a weight[a] (m_a * p_u) . q_i, trained with an L2 penalty on the factors and biases a
// batch reads. Simplified: the paper's Aspect-aware Topic Model (Atm) also learns, per user and
// item, a distribution over latent topics within each aspect that weights the factors; here a
// flat LDA (collapsed Gibbs sampling) gives the aspects, and the per-aspect factor weighting is
// learned from the ratings and shared by all users and items (the Atm is a model of its own; a flat
// LDA keeps the aspect-importance part, the half that reads the reviews).
//
// Leak-free: the vocabulary and the topic model see split.train reviews only (held-out texts are
// never tokenised); a training row's aspect importance leaves out its own review's topic counts (a
// row never reads its own review); held-out rows use every training review of their user and item.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"
#include "rec/id_model.h"

namespace loid {

struct AlfmOptions {
  std::uint64_t seed = 1;                                       // topics, initialisation, batches
  std::vector<std::int64_t> dims = {8, 16};                     // validation grid: latent factors K
  std::vector<double> regularizations = {0.05, 0.2, 0.5, 1.0};  // validation grid: L2 weight
  int aspects = 5;                                              // A, topics of the topic model
  int topic_iterations = 60;      // Gibbs sweeps over the training tokens
  double alpha = 0.5;             // Dirichlet prior of a review's aspects (also smooths rho)
  double beta = 0.01;             // Dirichlet prior of an aspect's words
  std::int64_t min_count = 2;     // a training word enters the vocabulary at this frequency
  double max_doc_fraction = 0.2;  // words in more training reviews than this fraction are left out
  double learning_rate = 5e-3;    // Adam
  std::int64_t batch_size = 256;  // training rows per step
  int max_epochs = 60;            // upper bound per grid point
  int patience = 5;               // epochs without a validation improvement
  int threads = 0;                // torch intra-op threads (0 = leave torch's setting)
  bool progress = false;          // a progress bar per epoch
};

// The topic model's output: per training review its aspect counts (held-out reviews have none).
struct AspectTopics {
  std::vector<std::string> words;                 // the vocabulary, by id
  std::vector<std::vector<std::int32_t>> counts;  // review id -> A token counts (train only)
  int aspects = 0;
};

// Fits the LDA on the training reviews of the split (deterministic for options.seed).
AspectTopics fit_aspect_topics(const Dataset& dataset, const Split& split,
                               const AlfmOptions& options);

// Aspect importance (n, A) of the users (items) of the given reviews: the alpha-smoothed share of
// each aspect among the topic counts of their training reviews, with the review itself left out
// when it is a training review (a cold user or item gets the uniform distribution).
torch::Tensor user_aspects(const Dataset& dataset, const Split& split, const AspectTopics& topics,
                           const std::vector<std::int64_t>& review_ids, double alpha);
torch::Tensor item_aspects(const Dataset& dataset, const Split& split, const AspectTopics& topics,
                           const std::vector<std::int64_t>& review_ids, double alpha);

// Trains ALFM on split.train over the validation grid.
IdBaselineResult train_alfm(const Dataset& dataset, const Split& split, const AlfmOptions& options);

}  // namespace loid
