// Data parallelism over several processes with torch.distributed's c10d: rendezvous through a
// TCPStore, a Gloo process group, and the few collectives the stages need. The stages ask this
// module to shard, gather and all-reduce and never talk to c10d themselves; in a single process
// (the default, world size 1) every call is a no-op or an identity, so the stages run unchanged.
//
// How a step stays the one a single process takes: every rank draws the same global batch (the
// seeded order and the torch generator advance alike on every rank), takes rows [lo, hi) of it
// (shard()), computes its rows' losses summed and divided by the GLOBAL batch size, and the
// gradients are summed over the ranks before each optimiser step (allreduce_gradients), so every
// rank applies the same update. Dropout masks are those of the global batch, cut to the rank's
// rows (nn/dropout.h, BatchRowsScope). Results then equal one process's up to the order of float
// sums.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/launch.h"
#include "nn/encode.h"

namespace loid {

class Distributed {
 public:
  Distributed() = default;
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return rank_; }
  int world() const { return world_; }
  bool active() const { return world_ > 1; }
  bool main() const { return rank_ == 0; }

  // This rank's rows [first, second) of n, in rank order, sizes differing by at most one.
  std::pair<std::int64_t, std::int64_t> shard(std::int64_t n) const;

  // In place: every tensor summed over the ranks (float, double or int64; any device).
  void allreduce_sum(std::vector<torch::Tensor>& tensors, const std::string& what);
  double sum(double value, const std::string& what);
  // Rank 0's `value` on every rank (decisions such as early stopping must not hinge on a last-bit
  // difference between ranks with other thread counts).
  double same_everywhere(double value);
  // The gradients of `params` summed over the ranks (an undefined gradient counts as zero and is
  // made a zero tensor), in one flat buffer.
  void allreduce_gradients(const std::vector<torch::Tensor>& params);
  // Each rank's rows (its shard of `total` rows, shard(total)) concatenated in rank order: the
  // (total, ...) tensor every rank then holds. `local` must have shard(total)'s row count.
  torch::Tensor gather_rows(const torch::Tensor& local, std::int64_t total);
  void barrier(const std::string& what);
  // A barrier through the rendezvous store that waits up to `timeout_seconds` (not the job's
  // collective timeout): for ranks that meet again after work only some of them do (bench cells
  // that rank 0 alone computes). A lost rank 0 (the store's host) still fails it at once.
  void meet(const std::string& what, double timeout_seconds);
  // Every rank must give the same `value` (settings, data fingerprints): throws UsageError on all
  // ranks, naming the rank and the first difference, when one differs from rank 0's.
  void agree(const std::string& what, const std::string& value);
  // Tests: the largest difference of `params` between this rank and rank 0, over all ranks.
  double max_parameter_difference(const std::vector<torch::Tensor>& params);

  // Wall time this process spent inside collectives (waiting for the others included), and how
  // many it ran: what spreading the work costs.
  double collective_seconds() const { return collective_seconds_; }
  std::int64_t collective_calls() const { return collective_calls_; }

  // Joins the job (blocks until every rank has joined, or throws after the job's timeout).
  void join(const DistJob& job);

 private:
  // The end of a store exchange under `prefix`: rank 0 waits until the others are done with it.
  void leave_last(const std::string& prefix, const std::string& what);

  struct Impl;
  Impl* impl_ = nullptr;
  int rank_ = 0, world_ = 1;
  int agreements_ = 0;
  int meetings_ = 0;
  double collective_seconds_ = 0.0;
  std::int64_t collective_calls_ = 0;
};

// encode_texts with the texts sharded over the ranks (each encodes shard(n) of them) and the
// vectors gathered: every rank returns all n rows, as one process's encode_texts would (up to the
// float rounding of other batch compositions).
torch::Tensor encode_texts_sharded(Encoder& encoder, const std::vector<std::string>& texts,
                                   const EncodeOptions& options);

// The process's instance: a single process until join_distributed.
Distributed& distributed();

// Joins the job `job` describes when it has several processes (no-op for one). A rank other than
// 0 is silenced (no log lines, no progress bars: rank 0 speaks for the job), and the "all cores"
// thread count is divided among the ranks of this machine. Throws Error when this build has no
// c10d/Gloo (then `--nproc` and the other flags say so).
void join_distributed(const DistJob& job);

// LOID_DIST_CHECK_PARAMS=1 (tests): training loops compare every rank's parameters with rank 0's
// before each optimiser step and stop with an error when they differ at all.
bool check_ranks_each_step();

// Whether this build can run several processes (c10d with Gloo was found at build time).
bool distributed_available();

}  // namespace loid
