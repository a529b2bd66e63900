// Review contexts: leak-free draws never show the row's own review or a held-out one, draw k of
// the rest uniformly, and evaluation contexts are fixed per user/item; the paper-leaky protocol
// reproduces the authors' first-k-of-all-reviews lists (own review included).
#include "data/context.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "data/history.h"
#include "data/reader.h"
#include "data/split.h"
#include "support/error_of.h"
#include "support/test_paths.h"

namespace loid {
namespace {

Histories one_user(std::vector<std::int64_t> reviews) {
  Histories h;
  h.by_user = {reviews};
  h.by_item = {reviews};
  return h;
}

TEST(Context, LeakFreeDrawLeavesOutOwnReviewAndHasNoDuplicates) {
  const Histories h = one_user({10, 11, 12, 13, 14, 15, 16, 17});
  ContextSampler s(h, 5, Protocol::kLeakFree);
  Rng rng(3);
  for (int t = 0; t < 200; ++t) {
    const ContextBatch b = s.training({0}, {0}, {12}, rng);
    std::set<std::int64_t> seen(b.user.begin(), b.user.end());
    EXPECT_EQ(seen.size(), 5u);
    EXPECT_EQ(seen.count(12), 0u);
    EXPECT_EQ(seen.count(-1), 0u);
    for (auto id : b.user) EXPECT_TRUE(id >= 10 && id <= 17);
  }
}

TEST(Context, ShortHistoryIsMaskedAndKeepsOrder) {
  const Histories h = one_user({7, 3, 9});
  ContextSampler s(h, 5, Protocol::kLeakFree);
  Rng rng(1);
  const ContextBatch b = s.training({0}, {0}, {3}, rng);
  EXPECT_EQ(b.user, (std::vector<std::int64_t>{7, 9, -1, -1, -1}));
  const ContextBatch only = s.training({0}, {0}, {-5}, rng);
  EXPECT_EQ(only.item, (std::vector<std::int64_t>{7, 3, 9, -1, -1}));
}

TEST(Context, DrawIsUniformOverTheRest) {
  // 9 candidates after leaving out the own review, k = 3: each is drawn with probability 1/3.
  const Histories h = one_user({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  ContextSampler s(h, 3, Protocol::kLeakFree);
  Rng rng(42);
  std::map<std::int64_t, int> count;
  const int trials = 9000;
  for (int t = 0; t < trials; ++t)
    for (auto id : s.training({0}, {0}, {4}, rng).user) ++count[id];
  EXPECT_EQ(count.count(4), 0u);
  for (std::int64_t id : {0, 1, 2, 3, 5, 6, 7, 8, 9}) {
    // Expected 3000, binomial sd ~ 45: 5 sd bounds.
    EXPECT_NEAR(count[id], 3000, 225) << "review " << id;
  }
}

TEST(Context, EvaluationContextIsFixedPerUserWhateverTheBatch) {
  Histories h;
  h.by_user = {{0, 1, 2, 3, 4, 5, 6, 7}, {8, 9}};
  h.by_item = {{0, 2, 4, 6, 8}, {1, 3, 5, 7, 9, 10, 11}};
  ContextSampler s(h, 3, Protocol::kLeakFree);
  const ContextBatch a = s.evaluation({0, 1}, {1, 0}, 7);
  const ContextBatch b = s.evaluation({1, 0, 0}, {1, 1, 0}, 7);
  EXPECT_EQ(std::vector<std::int64_t>(a.user.begin(), a.user.begin() + 3),
            std::vector<std::int64_t>(b.user.begin() + 3, b.user.begin() + 6));
  EXPECT_EQ(std::vector<std::int64_t>(a.item.begin(), a.item.begin() + 3),
            std::vector<std::int64_t>(b.item.begin() + 3, b.item.begin() + 6));
  EXPECT_EQ(s.evaluation_user(0, 7), std::vector<std::int64_t>(a.user.begin(), a.user.begin() + 3));
  // Another seed gives another draw for the 8-review user (probability of equality 1/56).
  EXPECT_NE(s.evaluation_user(0, 7), s.evaluation_user(0, 8));
}

TEST(Context, UnknownIdsGetEmptyEvaluationContexts) {
  const Histories h = one_user({1, 2});
  ContextSampler s(h, 2, Protocol::kLeakFree);
  const ContextBatch b = s.evaluation({5}, {-1}, 1);
  EXPECT_EQ(b.user, (std::vector<std::int64_t>{-1, -1}));
  EXPECT_EQ(b.item, (std::vector<std::int64_t>{-1, -1}));
  Rng rng(1);
  EXPECT_NE(
      testing::error_of<UsageError>([&] { s.training({5}, {0}, {1}, rng); }).find("out of range"),
      std::string::npos);
  EXPECT_NE(testing::error_of<UsageError>([&] {
              ContextSampler(h, 0, Protocol::kLeakFree);
            }).find("at least 1"),
            std::string::npos);
}

TEST(Context, PaperLeakyTakesFirstKOfAllReviewsIncludingOwn) {
  std::vector<Review> reviews;
  for (int r = 0; r < 8; ++r) {
    Review x;
    x.user = r < 6 ? "u" : "v";
    x.item = r % 2 ? "a" : "b";
    x.rating = 1 + r % 5;
    x.text = "t";
    reviews.push_back(x);
  }
  Dataset d(reviews);
  const Histories h = leaky_histories(d);
  ContextSampler s(h, 3, Protocol::kPaperLeaky);
  Rng rng(1);
  const ContextBatch b = s.training({0}, {0}, {0}, rng);
  EXPECT_EQ(b.user, (std::vector<std::int64_t>{0, 1, 2}));  // own review 0 included
  EXPECT_EQ(b.item, (std::vector<std::int64_t>{0, 2, 4}));
  EXPECT_EQ(s.evaluation_user(0, 99), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(protocol_from_name("paper-leaky"), Protocol::kPaperLeaky);
  EXPECT_NE(testing::error_of<UsageError>([] { protocol_from_name("leaky"); }).find("leak-free"),
            std::string::npos);
}

// On the real Musical Instruments file: over a whole epoch of training contexts and all test and
// validation contexts, every review shown is a training review and never the row's own.
TEST(Context, RealDataContextsShowOnlyOtherTrainingReviews) {
  LOID_REQUIRE_SHARED(path, "amazon2014/reviews_Musical_Instruments_5.json.gz");
  Dataset d(read_reviews(path).reviews);
  SplitOptions so;
  so.seed = 1;
  const Split split = make_split(d, so);
  const HistoryIndex index(d, split);
  const Histories h = train_histories(index);
  ContextSampler s(h, 5, Protocol::kLeakFree);
  Rng rng(5);
  std::vector<std::int64_t> u, i, r;
  for (auto id : split.train) {
    u.push_back(d.user_of(id));
    i.push_back(d.item_of(id));
    r.push_back(id);
  }
  const ContextBatch tb = s.training(u, i, r, rng);
  std::int64_t shown = 0;
  for (std::size_t row = 0; row < r.size(); ++row) {
    for (std::size_t j = 0; j < 5; ++j) {
      for (auto id : {tb.user[row * 5 + j], tb.item[row * 5 + j]}) {
        if (id < 0) continue;
        ++shown;
        ASSERT_EQ(split.part[id], SplitPart::kTrain);
        ASSERT_NE(id, r[row]);
      }
    }
  }
  EXPECT_GT(shown, 50000);
  for (SplitPart part : {SplitPart::kValidation, SplitPart::kTest}) {
    std::vector<std::int64_t> eu, ei;
    for (auto id : split.ids(part)) {
      eu.push_back(d.user_of(id));
      ei.push_back(d.item_of(id));
    }
    const ContextBatch eb = s.evaluation(eu, ei, 1);
    for (auto id : eb.user)
      if (id >= 0) ASSERT_EQ(split.part[id], SplitPart::kTrain);
    for (auto id : eb.item)
      if (id >= 0) ASSERT_EQ(split.part[id], SplitPart::kTrain);
  }
}

}  // namespace
}  // namespace loid
