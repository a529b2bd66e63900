// Train-only history index (see history.h).
#include "data/history.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace loid {

namespace {

std::vector<std::int64_t> first_k(const std::vector<std::int64_t>& history, std::size_t k,
                                  std::int64_t exclude) {
  std::vector<std::int64_t> out;
  out.reserve(std::min(k, history.size()));
  for (std::int64_t r : history) {
    if (out.size() >= k) break;
    if (r != exclude) out.push_back(r);
  }
  return out;
}

const std::vector<std::int64_t>& at(const std::vector<std::vector<std::int64_t>>& lists,
                                    std::int64_t id, const char* what) {
  if (id < 0 || id >= static_cast<std::int64_t>(lists.size())) {
    throw UsageError(std::string(what) + " id " + std::to_string(id) + " out of range (" +
                     std::to_string(lists.size()) + " " + what + "s)");
  }
  return lists[static_cast<std::size_t>(id)];
}

}  // namespace

HistoryIndex::HistoryIndex(const Dataset& dataset, const Split& split)
    : by_user_(static_cast<std::size_t>(dataset.num_users())),
      by_item_(static_cast<std::size_t>(dataset.num_items())) {
  if (static_cast<std::int64_t>(split.part.size()) != dataset.num_reviews()) {
    throw UsageError("history index: split has " + std::to_string(split.part.size()) +
                     " reviews but dataset has " + std::to_string(dataset.num_reviews()));
  }
  for (std::int64_t r : split.train) {
    if (r < 0 || r >= dataset.num_reviews() ||
        split.part[static_cast<std::size_t>(r)] != SplitPart::kTrain) {
      throw UsageError("history index: review " + std::to_string(r) +
                       " is listed as training but not tagged train");
    }
    by_user_[static_cast<std::size_t>(dataset.user_of(r))].push_back(r);
    by_item_[static_cast<std::size_t>(dataset.item_of(r))].push_back(r);
  }
  const auto by_time_then_id = [&dataset](std::int64_t a, std::int64_t b) {
    const std::int64_t ta = dataset.review(a).time, tb = dataset.review(b).time;
    return ta != tb ? ta < tb : a < b;
  };
  for (auto& h : by_user_) std::sort(h.begin(), h.end(), by_time_then_id);
  for (auto& h : by_item_) std::sort(h.begin(), h.end(), by_time_then_id);
}

const std::vector<std::int64_t>& HistoryIndex::user_history(std::int64_t user) const {
  return at(by_user_, user, "user");
}

const std::vector<std::int64_t>& HistoryIndex::item_history(std::int64_t item) const {
  return at(by_item_, item, "item");
}

std::vector<std::int64_t> HistoryIndex::user_context(std::int64_t user, std::size_t k,
                                                     std::int64_t exclude) const {
  return first_k(user_history(user), k, exclude);
}

std::vector<std::int64_t> HistoryIndex::item_context(std::int64_t item, std::size_t k,
                                                     std::int64_t exclude) const {
  return first_k(item_history(item), k, exclude);
}

}  // namespace loid
