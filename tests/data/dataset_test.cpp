// Dense user/item ids: first-appearance numbering, names, lookups and range errors.
#include "data/dataset.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace loid {
namespace {

Review make(const std::string& user, const std::string& item, float rating) {
  Review r;
  r.user = user;
  r.item = item;
  r.rating = rating;
  return r;
}

TEST(Dataset, NumbersUsersAndItemsByFirstAppearance) {
  const Dataset d({make("carol", "i9", 5), make("alice", "i3", 4), make("carol", "i3", 2),
                   make("bob", "i9", 1), make("alice", "i7", 3)});
  EXPECT_EQ(d.num_reviews(), 5);
  EXPECT_EQ(d.num_users(), 3);
  EXPECT_EQ(d.num_items(), 3);
  EXPECT_EQ(d.user_names(), (std::vector<std::string>{"carol", "alice", "bob"}));
  EXPECT_EQ(d.item_names(), (std::vector<std::string>{"i9", "i3", "i7"}));
  EXPECT_EQ(d.review_users(), (std::vector<std::int64_t>{0, 1, 0, 2, 1}));
  EXPECT_EQ(d.review_items(), (std::vector<std::int64_t>{0, 1, 1, 0, 2}));
  EXPECT_EQ(d.user_of(3), 2);
  EXPECT_EQ(d.item_of(4), 2);
  EXPECT_EQ(d.user_name(1), "alice");
  EXPECT_EQ(d.item_name(2), "i7");
  EXPECT_EQ(d.find_user("bob"), 2);
  EXPECT_EQ(d.find_item("i3"), 1);
  EXPECT_EQ(d.find_user("dave"), -1);
  EXPECT_EQ(d.find_item("carol"), -1);  // users and items are separate namespaces
  EXPECT_EQ(d.review(3).rating, 1.0f);
}

TEST(Dataset, SameNameAsUserAndItemGetsIndependentIds) {
  const Dataset d({make("x", "y", 5), make("y", "x", 4)});
  EXPECT_EQ(d.find_user("y"), 1);
  EXPECT_EQ(d.find_item("y"), 0);
}

TEST(Dataset, OutOfRangeIdsThrowUsageError) {
  const Dataset d({make("u", "i", 3)});
  EXPECT_THROW(d.review(1), UsageError);
  EXPECT_THROW(d.review(-1), UsageError);
  EXPECT_THROW(d.user_of(1), UsageError);
  EXPECT_THROW(d.user_name(1), UsageError);
  EXPECT_THROW(d.item_name(-1), UsageError);
}

TEST(Dataset, EmptyDatasetHasNoIds) {
  const Dataset d(std::vector<Review>{});
  EXPECT_EQ(d.num_reviews(), 0);
  EXPECT_EQ(d.num_users(), 0);
  EXPECT_EQ(d.num_items(), 0);
}

}  // namespace
}  // namespace loid
