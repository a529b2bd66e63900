// Dense ids for a list of reviews: users and items numbered 0.. in order of first appearance, with
// the original names kept for output. A review's id is its index in the dataset.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/review.h"

namespace loid {

class Dataset {
 public:
  Dataset() = default;
  // Takes the reviews in their final order (e.g. ReviewFile::reviews) and numbers users and items.
  explicit Dataset(std::vector<Review> reviews);

  std::int64_t num_reviews() const { return static_cast<std::int64_t>(reviews_.size()); }
  std::int64_t num_users() const { return static_cast<std::int64_t>(user_names_.size()); }
  std::int64_t num_items() const { return static_cast<std::int64_t>(item_names_.size()); }

  // Review by dataset index; throws UsageError when out of range.
  const Review& review(std::int64_t id) const;
  const std::vector<Review>& reviews() const { return reviews_; }

  // Dense user/item id of review `id`.
  std::int64_t user_of(std::int64_t id) const { return review_user_[checked(id)]; }
  std::int64_t item_of(std::int64_t id) const { return review_item_[checked(id)]; }
  // Per-review dense ids (size num_reviews()).
  const std::vector<std::int64_t>& review_users() const { return review_user_; }
  const std::vector<std::int64_t>& review_items() const { return review_item_; }

  // Original name of a dense id; throws UsageError when out of range.
  const std::string& user_name(std::int64_t user) const;
  const std::string& item_name(std::int64_t item) const;
  const std::vector<std::string>& user_names() const { return user_names_; }
  const std::vector<std::string>& item_names() const { return item_names_; }

  // Dense id of an original name, or -1 when the name does not occur.
  std::int64_t find_user(const std::string& name) const;
  std::int64_t find_item(const std::string& name) const;

 private:
  std::size_t checked(std::int64_t id) const;

  std::vector<Review> reviews_;
  std::vector<std::int64_t> review_user_;                   // review id -> dense user id
  std::vector<std::int64_t> review_item_;                   // review id -> dense item id
  std::vector<std::string> user_names_;                     // dense user id -> original id
  std::vector<std::string> item_names_;                     // dense item id -> original id
  std::unordered_map<std::string, std::int64_t> user_ids_;  // original id -> dense id
  std::unordered_map<std::string, std::int64_t> item_ids_;
};

}  // namespace loid
