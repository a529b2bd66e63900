// Train-only histories on a hand-made fixture (expected lists written by hand) and, when
// ../shared/data is present, on Amazon Musical Instruments for several split seeds.
#include "data/history.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "core/error.h"
#include "data/reader.h"
#include "support/test_paths.h"

namespace loid {
namespace {

Review make(const std::string& user, const std::string& item, std::int64_t time) {
  Review r;
  r.user = user;
  r.item = item;
  r.rating = 3;
  r.time = time;
  return r;
}

// Same layout as the split test's fixture: with seed 1 review 6 is test and review 8 validation.
// Users A0 B1 C2 D3, items x0 y1 z2 w3.
Dataset hand_dataset() {
  return Dataset({make("A", "x", 300), make("B", "x", 100), make("A", "y", 100),
                  make("C", "y", 200), make("B", "z", 50), make("A", "z", 100), make("D", "y", 10),
                  make("C", "x", 200), make("B", "w", 70), make("C", "z", 200)});
}

using Ids = std::vector<std::int64_t>;

TEST(History, HandFixtureHoldsTrainingReviewsByTimeThenId) {
  const Dataset d = hand_dataset();
  const Split s = make_split(d, SplitOptions{});
  ASSERT_EQ(s.test, Ids{6});
  ASSERT_EQ(s.validation, Ids{8});
  const HistoryIndex h(d, s);
  EXPECT_EQ(h.user_history(0), (Ids{2, 5, 0}));  // A: times 100, 100, 300
  EXPECT_EQ(h.user_history(1), (Ids{4, 1}));     // B: 50, 100 (review 8 is validation)
  EXPECT_EQ(h.user_history(2), (Ids{3, 7, 9}));  // C: all at 200, so by id
  EXPECT_EQ(h.user_history(3), Ids{});           // D: only review is test -> cold
  EXPECT_EQ(h.item_history(0), (Ids{1, 7, 0}));  // x: 100, 200, 300
  EXPECT_EQ(h.item_history(1), (Ids{2, 3}));     // y: review 6 is test
  EXPECT_EQ(h.item_history(2), (Ids{4, 5, 9}));  // z: 50, 100, 200
  EXPECT_EQ(h.item_history(3), Ids{});           // w: only review is validation -> cold
}

TEST(History, ContextTakesFirstKAndSkipsExcluded) {
  const Dataset d = hand_dataset();
  const HistoryIndex h(d, make_split(d, SplitOptions{}));
  EXPECT_EQ(h.user_context(0, 2), (Ids{2, 5}));
  EXPECT_EQ(h.user_context(0, 2, 2), (Ids{5, 0}));
  EXPECT_EQ(h.user_context(0, 10, 5), (Ids{2, 0}));
  EXPECT_EQ(h.item_context(2, 0), Ids{});
  EXPECT_EQ(h.item_context(3, 5), Ids{});
}

TEST(History, RejectsBadIdsAndForeignSplits) {
  const Dataset d = hand_dataset();
  Split s = make_split(d, SplitOptions{});
  const HistoryIndex h(d, s);
  EXPECT_THROW(h.user_history(4), UsageError);
  EXPECT_THROW(h.item_history(-1), UsageError);
  const Dataset small({make("A", "x", 1)});
  EXPECT_THROW(HistoryIndex(small, s), UsageError);
  s.train.push_back(6);  // a test review smuggled into the train list
  EXPECT_THROW(HistoryIndex(d, s), UsageError);
}

// Each review id's number of appearances over all the given histories.
std::vector<int> appearances(const HistoryIndex& h, bool users, std::int64_t n) {
  std::vector<int> count(static_cast<std::size_t>(n), 0);
  const std::int64_t lists = users ? h.num_users() : h.num_items();
  for (std::int64_t k = 0; k < lists; ++k) {
    for (std::int64_t r : users ? h.user_history(k) : h.item_history(k)) ++count[r];
  }
  return count;
}

TEST(History, RealDataHistoriesHoldExactlyTheTrainingReviews) {
  LOID_REQUIRE_SHARED(path, "amazon2014/reviews_Musical_Instruments_5.json.gz");
  const Dataset d(read_reviews(path).reviews);
  ASSERT_EQ(d.num_reviews(), 10261);
  // Distinct cold users/items per seed from the independent reference
  // (python3 tests/golden/split/make_split_golden.py --real FILE); seed 5 has one of each.
  struct Expected {
    std::uint64_t seed;
    std::int64_t cold_users, cold_items;
  };
  for (const Expected& e : {Expected{1, 0, 0}, Expected{2, 0, 0}, Expected{5, 1, 1}}) {
    const std::uint64_t seed = e.seed;
    SplitOptions o;
    o.seed = seed;
    const Split s = make_split(d, o);
    const HistoryIndex h(d, s);
    const std::vector<int> by_user = appearances(h, true, d.num_reviews());
    const std::vector<int> by_item = appearances(h, false, d.num_reviews());
    for (std::int64_t r = 0; r < d.num_reviews(); ++r) {
      const int expected = s.part[r] == SplitPart::kTrain ? 1 : 0;
      ASSERT_EQ(by_user[r], expected) << "seed " << seed << " review " << r;
      ASSERT_EQ(by_item[r], expected) << "seed " << seed << " review " << r;
      // With exactly one appearance overall, membership in its own lists pins where it is.
      const auto& uh = h.user_history(d.user_of(r));
      const auto& ih = h.item_history(d.item_of(r));
      ASSERT_EQ(std::count(uh.begin(), uh.end(), r), expected)
          << "seed " << seed << " review " << r;
      ASSERT_EQ(std::count(ih.begin(), ih.end(), r), expected)
          << "seed " << seed << " review " << r;
    }
    for (std::int64_t u = 0; u < d.num_users(); ++u) {
      const auto& uh = h.user_history(u);
      for (std::size_t k = 1; k < uh.size(); ++k) {
        const auto a = d.review(uh[k - 1]).time, b = d.review(uh[k]).time;
        ASSERT_TRUE(a < b || (a == b && uh[k - 1] < uh[k])) << "user " << u << " out of order";
      }
    }
    const SplitCounts& c = s.counts;
    EXPECT_EQ(c.train, 8209);
    EXPECT_EQ(c.validation, 1026);
    EXPECT_EQ(c.test, 1026);
    EXPECT_EQ(c.cold_users, e.cold_users) << "seed " << seed;
    EXPECT_EQ(c.cold_items, e.cold_items) << "seed " << seed;
    std::int64_t empty_users = 0, empty_items = 0;
    for (std::int64_t u = 0; u < d.num_users(); ++u) empty_users += h.user_history(u).empty();
    for (std::int64_t i = 0; i < d.num_items(); ++i) empty_items += h.item_history(i).empty();
    EXPECT_EQ(empty_users, c.cold_users);
    EXPECT_EQ(empty_items, c.cold_items);
    std::cout << "[ info ] Musical Instruments seed " << seed << ": train " << c.train
              << ", validation " << c.validation << ", test " << c.test << "; cold users "
              << c.cold_users << " (" << c.cold_user_reviews << " reviews), cold items "
              << c.cold_items << " (" << c.cold_item_reviews << " reviews), cold pairs "
              << c.cold_pair_reviews << "\n";
  }
}

}  // namespace
}  // namespace loid
