// Merging several LoRA adapters of the same module set into one (PEFT's add_weighted_adapter
// methods), done on the exact deltas: sum_i w_i scale_i B_i A_i, then re-factored.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nn/lora.h"
#include "nn/peft.h"

namespace loid {

enum class MergeMethod { kLinear, kCat, kSvd, kTies, kDareLinear, kDareTies };

// "linear", "cat", "svd", "ties", "dare_linear", "dare_ties"; throws UsageError listing them.
MergeMethod merge_method_from_name(const std::string& name);
const char* merge_method_name(MergeMethod m);

struct MergeOptions {
  MergeMethod method = MergeMethod::kLinear;  // how deltas combine
  std::vector<double> weights;                // one per adapter; empty = all 1.0
  int rank = 0;            // output rank for all but cat; 0 = the largest input rank
  double density = 0.5;    // ties: fraction of entries kept per delta (top |value|);
                           // dare: keep probability, i.e. drop rate p = 1 - density
  std::uint64_t seed = 0;  // dare: drop masks come from loid::Rng, see dare_mask()
};

// Merges one module's adapters (each with its own scale). The result has scale 1 (B A is the
// delta). cat: A = [w_i s_i A_i] stacked, B = [B_i] side by side (exact, rank = sum of ranks).
// Others: the merged delta D is computed in float64 and factored by truncated SVD at the output
// rank as B = U sqrt(S), A = sqrt(S) V^T (exact when the rank reaches rank(D)).
//  - linear / svd: D = sum_i w_i s_i B_i A_i.
//  - ties: T_i = s_i B_i A_i trimmed to its floor(density * numel) largest magnitudes (ties
//    broken by lower flat index); sign per entry = sign of sum_i T_i (>= 0 -> +); D = sum of
//    w_i T_i over entries whose T_i has the elected sign, divided by their count (PEFT's order).
//  - dare_linear: T_i = s_i B_i A_i * mask_i / density, then D = sum_i w_i T_i.
//  - dare_ties: T_i as in dare_linear, then the ties election and disjoint mean (no trimming).
// `module` names the module for the DARE seeds.
LoraPair merge_module(const std::vector<LoraPair>& adapters, const MergeOptions& options,
                      const std::string& module = "");

// The DARE keep mask (1 keep, 0 drop) for adapter `index` of `module`, shape (out, in): entry e
// (row-major) is kept iff the e-th uniform() of Rng(seed ^ fnv1a64(module)).fork(index + 1) is
// < density. Portable: identical on every machine.
torch::Tensor dare_mask(std::uint64_t seed, const std::string& module, std::size_t index,
                        int64_t out, int64_t in, double density);

// Merges whole adapters: all must cover the same modules with the same shapes (UsageError naming
// the first difference otherwise). The result's config has r = the output rank and
// alpha = r (scale 1); target_modules is the union; other fields come from the first adapter.
// Its metadata records the method, weights and inputs' metadata.
PeftAdapter merge_adapters(const std::vector<PeftAdapter>& adapters, const MergeOptions& options);

}  // namespace loid
