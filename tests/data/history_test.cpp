// Train-only histories on a hand-made fixture (expected lists written by hand).
#include "data/history.h"

#include <gtest/gtest.h>

#include "core/error.h"

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

}  // namespace
}  // namespace loid
