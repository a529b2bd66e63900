// Dense id assignment for reviews (see dataset.h).
#include "data/dataset.h"

#include "core/error.h"

namespace loid {

namespace {

// Returns the dense id of `name`, assigning the next one on first sight.
std::int64_t intern(const std::string& name, std::unordered_map<std::string, std::int64_t>& ids,
                    std::vector<std::string>& names) {
  auto [it, inserted] = ids.emplace(name, static_cast<std::int64_t>(names.size()));
  if (inserted) names.push_back(name);
  return it->second;
}

}  // namespace

Dataset::Dataset(std::vector<Review> reviews) : reviews_(std::move(reviews)) {
  review_user_.reserve(reviews_.size());
  review_item_.reserve(reviews_.size());
  for (const Review& r : reviews_) {
    review_user_.push_back(intern(r.user, user_ids_, user_names_));
    review_item_.push_back(intern(r.item, item_ids_, item_names_));
  }
}

std::size_t Dataset::checked(std::int64_t id) const {
  if (id < 0 || id >= num_reviews()) {
    throw UsageError("review id " + std::to_string(id) + " out of range (dataset has " +
                     std::to_string(num_reviews()) + " reviews)");
  }
  return static_cast<std::size_t>(id);
}

const Review& Dataset::review(std::int64_t id) const {
  return reviews_[checked(id)];
}

const std::string& Dataset::user_name(std::int64_t user) const {
  if (user < 0 || user >= num_users()) {
    throw UsageError("user id " + std::to_string(user) + " out of range (dataset has " +
                     std::to_string(num_users()) + " users)");
  }
  return user_names_[static_cast<std::size_t>(user)];
}

const std::string& Dataset::item_name(std::int64_t item) const {
  if (item < 0 || item >= num_items()) {
    throw UsageError("item id " + std::to_string(item) + " out of range (dataset has " +
                     std::to_string(num_items()) + " items)");
  }
  return item_names_[static_cast<std::size_t>(item)];
}

std::int64_t Dataset::find_user(const std::string& name) const {
  auto it = user_ids_.find(name);
  return it == user_ids_.end() ? -1 : it->second;
}

std::int64_t Dataset::find_item(const std::string& name) const {
  auto it = item_ids_.find(name);
  return it == item_ids_.end() ? -1 : it->second;
}

}  // namespace loid
