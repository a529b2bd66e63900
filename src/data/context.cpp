// Review contexts for the LoID model (see context.h).
#include "data/context.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace loid {

Protocol protocol_from_name(const std::string& name) {
  if (name == "leak-free") return Protocol::kLeakFree;
  if (name == "paper-leaky") return Protocol::kPaperLeaky;
  throw UsageError("unknown protocol '" + name + "' (expected leak-free or paper-leaky)");
}

const char* protocol_name(Protocol p) {
  return p == Protocol::kLeakFree ? "leak-free" : "paper-leaky";
}

Histories train_histories(const HistoryIndex& index) {
  Histories h;
  h.by_user.reserve(static_cast<std::size_t>(index.num_users()));
  h.by_item.reserve(static_cast<std::size_t>(index.num_items()));
  for (std::int64_t u = 0; u < index.num_users(); ++u) h.by_user.push_back(index.user_history(u));
  for (std::int64_t i = 0; i < index.num_items(); ++i) h.by_item.push_back(index.item_history(i));
  return h;
}

Histories leaky_histories(const Dataset& dataset) {
  Histories h;
  h.by_user.resize(static_cast<std::size_t>(dataset.num_users()));
  h.by_item.resize(static_cast<std::size_t>(dataset.num_items()));
  for (std::int64_t r = 0; r < dataset.num_reviews(); ++r) {
    h.by_user[static_cast<std::size_t>(dataset.user_of(r))].push_back(r);
    h.by_item[static_cast<std::size_t>(dataset.item_of(r))].push_back(r);
  }
  return h;
}

ContextSampler::ContextSampler(const Histories& histories, std::size_t k, Protocol protocol)
    : histories_(histories), k_(k), protocol_(protocol) {
  if (k == 0) throw UsageError("the number of context reviews k must be at least 1");
}

void ContextSampler::draw(const std::vector<std::int64_t>& history, std::int64_t exclude, Rng& rng,
                          std::int64_t* out) const {
  std::fill(out, out + k_, -1);
  if (protocol_ == Protocol::kPaperLeaky) {
    const std::size_t n = std::min(k_, history.size());
    std::copy(history.begin(), history.begin() + static_cast<std::ptrdiff_t>(n), out);
    return;
  }
  std::size_t available = history.size();
  const bool has_excluded = std::find(history.begin(), history.end(), exclude) != history.end();
  if (has_excluded) --available;
  if (available <= k_) {
    std::size_t j = 0;
    for (std::int64_t r : history)
      if (r != exclude) out[j++] = r;
    return;
  }
  // Selection sampling (Knuth's algorithm S): k of `available` in history order, one pass, no
  // allocation; each k-subset equally likely.
  std::size_t needed = k_, left = available, j = 0;
  for (std::int64_t r : history) {
    if (r == exclude) continue;
    if (rng.below(left) < needed) {
      out[j++] = r;
      if (--needed == 0) break;
    }
    --left;
  }
}

ContextBatch ContextSampler::training(const std::vector<std::int64_t>& users,
                                      const std::vector<std::int64_t>& items,
                                      const std::vector<std::int64_t>& reviews, Rng& rng) const {
  if (users.size() != items.size() || users.size() != reviews.size())
    throw UsageError("context batch: users, items and reviews differ in length");
  ContextBatch b;
  b.k = k_;
  b.user.resize(users.size() * k_);
  b.item.resize(users.size() * k_);
  for (std::size_t r = 0; r < users.size(); ++r) {
    const auto u = static_cast<std::size_t>(users[r]);
    const auto i = static_cast<std::size_t>(items[r]);
    if (u >= histories_.by_user.size() || i >= histories_.by_item.size())
      throw UsageError("context batch: user or item id out of range");
    draw(histories_.by_user[u], reviews[r], rng, b.user.data() + r * k_);
    draw(histories_.by_item[i], reviews[r], rng, b.item.data() + r * k_);
  }
  return b;
}

void ContextSampler::fixed(const std::vector<std::vector<std::int64_t>>& lists, std::int64_t id,
                           std::uint64_t seed, std::uint64_t salt, std::int64_t* out) const {
  if (id < 0 || id >= static_cast<std::int64_t>(lists.size())) {
    std::fill(out, out + k_, -1);
    return;
  }
  // One generator per (seed, list, id): the draw does not depend on what else is evaluated.
  Rng rng = Rng(seed ^ salt).fork(static_cast<std::uint64_t>(id) + 1);
  draw(lists[static_cast<std::size_t>(id)], -1, rng, out);
}

ContextBatch ContextSampler::evaluation(const std::vector<std::int64_t>& users,
                                        const std::vector<std::int64_t>& items,
                                        std::uint64_t seed) const {
  if (users.size() != items.size())
    throw UsageError("context batch: users and items differ in length");
  ContextBatch b;
  b.k = k_;
  b.user.resize(users.size() * k_);
  b.item.resize(users.size() * k_);
  for (std::size_t r = 0; r < users.size(); ++r) {
    fixed(histories_.by_user, users[r], seed, kEvalUserSalt, b.user.data() + r * k_);
    fixed(histories_.by_item, items[r], seed, kEvalItemSalt, b.item.data() + r * k_);
  }
  return b;
}

std::vector<std::int64_t> ContextSampler::evaluation_user(std::int64_t user,
                                                          std::uint64_t seed) const {
  std::vector<std::int64_t> out(k_);
  fixed(histories_.by_user, user, seed, kEvalUserSalt, out.data());
  return out;
}

std::vector<std::int64_t> ContextSampler::evaluation_item(std::int64_t item,
                                                          std::uint64_t seed) const {
  std::vector<std::int64_t> out(k_);
  fixed(histories_.by_item, item, seed, kEvalItemSalt, out.data());
  return out;
}

}  // namespace loid
