// Review contexts for the LoID model: for each (user, item) row, up to k review ids from the user's
// history and k from the item's. Leak-free by default (histories from the training split only,
// the row's own review left out, a fresh seeded draw each training epoch, one fixed seeded draw for
// evaluation); the paper-leaky protocol of the authors' released code is available, labelled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/dataset.h"
#include "data/history.h"

namespace loid {

enum class Protocol {
  kLeakFree,    // histories from training reviews only (the default)
  kPaperLeaky,  // the authors' code: histories from ALL reviews before the split, first k in
                // file order, the row's own review kept; test reviews reach the model (LEAKY)
};
// "leak-free" or "paper-leaky"; throws UsageError listing them.
Protocol protocol_from_name(const std::string& name);
const char* protocol_name(Protocol p);

// Per-user and per-item lists of review ids the model may read.
struct Histories {
  std::vector<std::vector<std::int64_t>> by_user;
  std::vector<std::vector<std::int64_t>> by_item;
};
// Training reviews only, each list by ascending (time, review id): the HistoryIndex lists.
Histories train_histories(const HistoryIndex& index);
// Every review of the dataset, in dataset (file) order: the authors' leaky histories.
Histories leaky_histories(const Dataset& dataset);

// Review ids of one batch's contexts: (rows x k) row-major, -1 where fewer than k exist.
struct ContextBatch {
  std::size_t k = 0;
  std::vector<std::int64_t> user;  // rows * k
  std::vector<std::int64_t> item;  // rows * k
};

class ContextSampler {
 public:
  // `histories` must outlive the sampler. k >= 1.
  ContextSampler(const Histories& histories, std::size_t k, Protocol protocol);

  std::size_t k() const { return k_; }
  Protocol protocol() const { return protocol_; }

  // Training contexts of rows (user[r], item[r], review[r]). Leak-free: k ids drawn uniformly
  // without replacement from the history minus review[r] (all of them, in history order, when at
  // most k remain), the draw driven by `rng`. Paper-leaky: the first k, own review included.
  ContextBatch training(const std::vector<std::int64_t>& users,
                        const std::vector<std::int64_t>& items,
                        const std::vector<std::int64_t>& reviews, Rng& rng) const;

  // Evaluation contexts: one draw per user and per item fixed by `seed` (independent of which rows
  // are asked for, so a pair scores the same in any batch). Ids outside the histories (users or
  // items unknown to the model) get an empty context.
  ContextBatch evaluation(const std::vector<std::int64_t>& users,
                          const std::vector<std::int64_t>& items, std::uint64_t seed) const;

  // The fixed evaluation context of one user / item (for serving and inspection).
  std::vector<std::int64_t> evaluation_user(std::int64_t user, std::uint64_t seed) const;
  std::vector<std::int64_t> evaluation_item(std::int64_t item, std::uint64_t seed) const;

 private:
  void draw(const std::vector<std::int64_t>& history, std::int64_t exclude, Rng& rng,
            std::int64_t* out) const;
  void fixed(const std::vector<std::vector<std::int64_t>>& lists, std::int64_t id,
             std::uint64_t seed, std::uint64_t salt, std::int64_t* out) const;

  const Histories& histories_;
  std::size_t k_;
  Protocol protocol_;
};

// Salts that separate the evaluation draws of users and items from each other and from training.
constexpr std::uint64_t kEvalUserSalt = 0x6576616c75ULL;  // "evalu"
constexpr std::uint64_t kEvalItemSalt = 0x6576616c69ULL;  // "evali"

}  // namespace loid
