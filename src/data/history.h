// Train-only review histories: for every user the training reviews they wrote, for every item the
// training reviews written about it. Built from the split's training ids alone, so no validation
// or test review can ever reach a model through a history (the leak in the paper's public code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"

namespace loid {

class HistoryIndex {
 public:
  // Indexes split.train only; throws UsageError when the split does not belong to the dataset or
  // lists a review under train that is not tagged train.
  HistoryIndex(const Dataset& dataset, const Split& split);

  std::int64_t num_users() const { return static_cast<std::int64_t>(by_user_.size()); }
  std::int64_t num_items() const { return static_cast<std::int64_t>(by_item_.size()); }

  // Training review ids of a dense user / item id, ordered by ascending (time, review id); empty
  // for a cold user or item. Throws UsageError when the id is out of range.
  const std::vector<std::int64_t>& user_history(std::int64_t user) const;
  const std::vector<std::int64_t>& item_history(std::int64_t item) const;

  // The first k entries of a history in its order, leaving out `exclude` (pass the review being
  // predicted when training, so a model never reads the review whose rating it predicts; -1 =
  // none).
  std::vector<std::int64_t> user_context(std::int64_t user, std::size_t k,
                                         std::int64_t exclude = -1) const;
  std::vector<std::int64_t> item_context(std::int64_t item, std::size_t k,
                                         std::int64_t exclude = -1) const;

 private:
  std::vector<std::vector<std::int64_t>> by_user_;  // dense user id -> training review ids
  std::vector<std::vector<std::int64_t>> by_item_;  // dense item id -> training review ids
};

}  // namespace loid
