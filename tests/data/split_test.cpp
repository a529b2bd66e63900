// The seeded split: portability against an independent Python implementation
// (tests/golden/split/make_split_golden.py), size rule, option checks, cold flags, split.tsv.
#include "data/split.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

nlohmann::json golden_cases() {
  return nlohmann::json::parse(read_file(testing::golden("split/split_golden.json")))["cases"];
}

SplitOptions options_of(const nlohmann::json& c) {
  SplitOptions o;
  o.seed = std::stoull(c["seed"].get<std::string>());
  o.train = c["ratios"][0];
  o.validation = c["ratios"][1];
  o.test = c["ratios"][2];
  return o;
}

TEST(Split, PermutationMatchesPythonReference) {
  for (const auto& c : golden_cases()) {
    const SplitOptions o = options_of(c);
    EXPECT_EQ(split_permutation(c["n"], o.seed), c["permutation"].get<std::vector<std::int64_t>>())
        << "n=" << c["n"] << " seed=" << o.seed;
  }
}

TEST(Split, PartsAndSizesMatchPythonReference) {
  const char code[] = {'0', '1', '2'};
  for (const auto& c : golden_cases()) {
    const SplitOptions o = options_of(c);
    const std::int64_t n = c["n"];
    std::string parts;
    for (SplitPart p : split_parts(n, o)) parts += code[static_cast<int>(p)];
    EXPECT_EQ(parts, c["parts"].get<std::string>()) << "n=" << n << " seed=" << o.seed;
    const SplitSizes s = split_sizes(n, o);
    EXPECT_EQ(s.train, c["sizes"]["train"].get<std::int64_t>());
    EXPECT_EQ(s.validation, c["sizes"]["validation"].get<std::int64_t>());
    EXPECT_EQ(s.test, c["sizes"]["test"].get<std::int64_t>());
  }
}

TEST(Split, SizesFollowTheFloorRule) {
  SplitOptions o;  // 0.8 / 0.1 / 0.1
  EXPECT_EQ(split_sizes(10261, o).test, 1026);
  EXPECT_EQ(split_sizes(10261, o).validation, 1026);
  EXPECT_EQ(split_sizes(10261, o).train, 8209);
  EXPECT_EQ(split_sizes(9, o).test, 0);
  EXPECT_EQ(split_sizes(9, o).train, 9);
  EXPECT_EQ(split_sizes(0, o).train, 0);
  o.train = 0.5;
  o.validation = 0.21;
  o.test = 0.29;  // 100 * 0.29 is 28.999999999999996 in doubles; the rule still gives 29
  EXPECT_EQ(split_sizes(100, o).test, 29);
  EXPECT_EQ(split_sizes(100, o).validation, 21);
  o.validation = 0.29;  // the same rule for validation
  o.test = 0.21;
  EXPECT_EQ(split_sizes(100, o).validation, 29);
  EXPECT_EQ(split_sizes(100, o).test, 21);
  EXPECT_EQ(split_sizes(100, o).train, 50);
}

TEST(Split, OptionsAreValidated) {
  SplitOptions o;
  EXPECT_NO_THROW(validate_split_options(o));
  o.test = 0.0;
  o.train = 0.9;
  EXPECT_THROW(validate_split_options(o), UsageError);
  o = SplitOptions{};
  o.validation = -0.1;
  o.train = 1.0;
  EXPECT_THROW(validate_split_options(o), UsageError);
  o = SplitOptions{};
  o.train = 0.7;  // sums to 0.9
  EXPECT_THROW(validate_split_options(o), UsageError);
  o = SplitOptions{};
  o.train = std::nan("");
  EXPECT_THROW(validate_split_options(o), UsageError);
  o = SplitOptions{};
  o.test = 0.1 + 1e-12;  // within tolerance
  EXPECT_NO_THROW(validate_split_options(o));
}

TEST(Split, ParsesRatios) {
  SplitOptions o;
  o.seed = 5;
  parse_split_ratios("0.7,0.2,0.1", o);
  EXPECT_DOUBLE_EQ(o.train, 0.7);
  EXPECT_DOUBLE_EQ(o.validation, 0.2);
  EXPECT_DOUBLE_EQ(o.test, 0.1);
  EXPECT_EQ(o.seed, 5u);
  for (const char* bad : {"", "0.8,0.2", "0.8,0.1,0.1,0", "0.8,,0.2", "a,0.1,0.1", "0.8,0.1,0.2",
                          "0.8 ,0.1,0.1", "1,0,0"}) {
    SplitOptions before = o;
    EXPECT_THROW(parse_split_ratios(bad, o), UsageError) << bad;
    EXPECT_DOUBLE_EQ(o.train, before.train) << "options changed by a failed parse: " << bad;
  }
}

TEST(Split, SameSeedSameSplitOtherSeedOther) {
  SplitOptions a, b;
  b.seed = 2;
  EXPECT_EQ(split_parts(500, a), split_parts(500, a));
  EXPECT_NE(split_parts(500, a), split_parts(500, b));
}

Review make(const std::string& user, const std::string& item, float rating, std::int64_t time,
            std::int64_t line) {
  Review r;
  r.user = user;
  r.item = item;
  r.rating = rating;
  r.time = time;
  r.line = line;
  return r;
}

// Ten reviews; with seed 1 the reference puts review 6 in test and review 8 in validation
// (split_golden.json, n=10). D's only review is 6 (cold user); w's only review is 8 (cold item).
Dataset hand_dataset() {
  return Dataset({make("A", "x", 5, 300, 1), make("B", "x", 4, 100, 2), make("A", "y", 3, 100, 3),
                  make("C", "y", 2, 200, 4), make("B", "z", 1, 50, 5), make("A", "z", 4.5f, 100, 7),
                  make("D", "y", 5, 10, 8), make("C", "x", 3, 200, 9), make("B", "w", 2, 70, 10),
                  make("C", "z", 4, 200, 11)});
}

TEST(Split, HandDatasetColdFlagsAndCounts) {
  const Split s = make_split(hand_dataset(), SplitOptions{});
  EXPECT_EQ(s.train, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 7, 9}));
  EXPECT_EQ(s.validation, (std::vector<std::int64_t>{8}));
  EXPECT_EQ(s.test, (std::vector<std::int64_t>{6}));
  EXPECT_EQ(s.cold_user, (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(s.cold_item, (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(s.counts.train, 8);
  EXPECT_EQ(s.counts.validation, 1);
  EXPECT_EQ(s.counts.test, 1);
  EXPECT_EQ(s.counts.cold_user_reviews, 1);
  EXPECT_EQ(s.counts.cold_item_reviews, 1);
  EXPECT_EQ(s.counts.cold_pair_reviews, 0);
  EXPECT_EQ(s.counts.cold_users, 1);
  EXPECT_EQ(s.counts.cold_items, 1);
}

// Distinct cold users and items are counted once each, not once per held-out review: with seed 1
// reviews 6 (test) and 8 (validation) are held out (HandDatasetColdFlagsAndCounts); here both are
// by D, D's only reviews, and both about w, w's only reviews.
TEST(Split, ColdUsersAndItemsAreCountedOncePerUserAndItem) {
  const Dataset d({make("A", "x", 5, 300, 1), make("B", "x", 4, 100, 2), make("A", "y", 3, 100, 3),
                   make("C", "y", 2, 200, 4), make("B", "z", 1, 50, 5),
                   make("A", "z", 4.5f, 100, 7), make("D", "w", 5, 10, 8),
                   make("C", "x", 3, 200, 9), make("D", "w", 2, 70, 10),
                   make("C", "z", 4, 200, 11)});
  const Split s = make_split(d, SplitOptions{});
  ASSERT_EQ(s.test, (std::vector<std::int64_t>{6}));
  ASSERT_EQ(s.validation, (std::vector<std::int64_t>{8}));
  EXPECT_EQ(s.cold_user, (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 1, 0, 1, 0}));
  EXPECT_EQ(s.cold_item, (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 1, 0, 1, 0}));
  EXPECT_EQ(s.counts.cold_user_reviews, 2);
  EXPECT_EQ(s.counts.cold_item_reviews, 2);
  EXPECT_EQ(s.counts.cold_pair_reviews, 2);
  EXPECT_EQ(s.counts.cold_users, 1);
  EXPECT_EQ(s.counts.cold_items, 1);
}

// Cold flags recomputed by brute force over a dataset with many small users and items.
TEST(Split, ColdFlagsMatchBruteForce) {
  std::vector<Review> reviews;
  for (int r = 0; r < 400; ++r) {
    reviews.push_back(make("u" + std::to_string((r * 7) % 130), "i" + std::to_string((r * 13) % 90),
                           static_cast<float>(1 + r % 5), r, r + 1));
  }
  const Dataset d(reviews);
  for (std::uint64_t seed : {1, 2, 3}) {
    SplitOptions o;
    o.seed = seed;
    o.train = 0.5;
    o.validation = 0.25;
    o.test = 0.25;
    const Split s = make_split(d, o);
    std::set<std::int64_t> all(s.train.begin(), s.train.end());
    all.insert(s.validation.begin(), s.validation.end());
    all.insert(s.test.begin(), s.test.end());
    ASSERT_EQ(all.size(), 400u);
    std::int64_t cold_users = 0, cold_pairs = 0;
    std::set<std::int64_t> distinct;
    for (std::int64_t r = 0; r < 400; ++r) {
      bool user_trained = false, item_trained = false;
      for (std::int64_t t : s.train) {
        user_trained |= d.user_of(t) == d.user_of(r);
        item_trained |= d.item_of(t) == d.item_of(r);
      }
      const bool held_out = s.part[r] != SplitPart::kTrain;
      EXPECT_EQ(s.cold_user[r], held_out && !user_trained) << r;
      EXPECT_EQ(s.cold_item[r], held_out && !item_trained) << r;
      if (held_out && !user_trained) {
        ++cold_users;
        distinct.insert(d.user_of(r));
      }
      cold_pairs += held_out && !user_trained && !item_trained;
    }
    EXPECT_EQ(s.counts.cold_user_reviews, cold_users);
    EXPECT_EQ(s.counts.cold_pair_reviews, cold_pairs);
    EXPECT_EQ(s.counts.cold_users, static_cast<std::int64_t>(distinct.size()));
    EXPECT_GT(cold_users, 0) << "fixture should produce some cold users";
  }
}

// --train-fraction: validation and test as without it; a seeded sample of the training reviews
// kept, the rest unused; cold flags follow the kept reviews only.
TEST(Split, TrainFractionKeepsASeededSampleOfTheTrainingReviews) {
  std::vector<Review> reviews;
  for (int r = 0; r < 400; ++r)
    reviews.push_back(make("u" + std::to_string((r * 7) % 130), "i" + std::to_string((r * 13) % 90),
                           static_cast<float>(1 + r % 5), r, r + 1));
  const Dataset d(reviews);
  SplitOptions all;
  all.seed = 4;
  SplitOptions quarter = all;
  quarter.train_fraction = 0.25;
  const Split full = make_split(d, all);
  const Split part = make_split(d, quarter);
  EXPECT_EQ(part.validation, full.validation);
  EXPECT_EQ(part.test, full.test);
  EXPECT_EQ(part.counts.train, static_cast<std::int64_t>(full.train.size() / 4));  // floor(320/4)
  EXPECT_EQ(part.counts.unused, full.counts.train - part.counts.train);
  for (std::int64_t r : part.train) EXPECT_EQ(full.part[r], SplitPart::kTrain) << r;
  std::int64_t unused = 0;
  for (std::int64_t r = 0; r < 400; ++r) {
    if (part.part[r] != SplitPart::kUnused) continue;
    ++unused;
    EXPECT_EQ(full.part[r], SplitPart::kTrain) << r;
  }
  EXPECT_EQ(unused, part.counts.unused);
  EXPECT_EQ(make_split(d, quarter).train, part.train);  // seeded
  SplitOptions other = quarter;
  other.seed = 5;
  EXPECT_NE(make_split(d, other).train, part.train);
  // A held-out review whose user kept no training review is cold, whatever it had before.
  for (std::int64_t r : part.test) {
    bool kept = false;
    for (std::int64_t t : part.train) kept |= d.user_of(t) == d.user_of(r);
    EXPECT_EQ(part.cold_user[r], kept ? 0 : 1) << r;
  }
  EXPECT_GT(part.counts.cold_user_reviews, full.counts.cold_user_reviews);
  quarter.train_fraction = 0.0;
  EXPECT_THROW(make_split(d, quarter), UsageError);
  EXPECT_STREQ(split_part_name(SplitPart::kUnused), "unused");
}

TEST(Split, WritesSplitTsv) {
  const Dataset d = hand_dataset();
  const std::string path = testing::temp_dir("split_tsv") + "/split.tsv";
  write_split_tsv(d, make_split(d, SplitOptions{}), path);
  EXPECT_EQ(read_file(path),
            "review\tline\tuser\titem\trating\tsplit\tcold_user\tcold_item\ttime\n"
            "0\t1\tA\tx\t5\ttrain\t0\t0\t300\n"
            "1\t2\tB\tx\t4\ttrain\t0\t0\t100\n"
            "2\t3\tA\ty\t3\ttrain\t0\t0\t100\n"
            "3\t4\tC\ty\t2\ttrain\t0\t0\t200\n"
            "4\t5\tB\tz\t1\ttrain\t0\t0\t50\n"
            "5\t7\tA\tz\t4.5\ttrain\t0\t0\t100\n"
            "6\t8\tD\ty\t5\ttest\t1\t0\t10\n"
            "7\t9\tC\tx\t3\ttrain\t0\t0\t200\n"
            "8\t10\tB\tw\t2\tvalidation\t0\t1\t70\n"
            "9\t11\tC\tz\t4\ttrain\t0\t0\t200\n");
}

TEST(Split, TsvEscapesIdsAndRejectsMismatchedSplit) {
  const Dataset d({make("a\tb\rf", "c\\d\ne", 3, 0, 1)});
  const std::string path = testing::temp_dir("split_tsv_escape") + "/split.tsv";
  write_split_tsv(d, make_split(d, SplitOptions{}), path);
  const std::string text = read_file(path);
  EXPECT_EQ(text.substr(text.find('\n') + 1), "0\t1\ta\\tb\\rf\tc\\\\d\\ne\t3\ttrain\t0\t0\t0\n");
  EXPECT_EQ(text.find('\r'), std::string::npos)
      << "a raw carriage return splits the line for readers";
  EXPECT_THROW(write_split_tsv(hand_dataset(), make_split(d, SplitOptions{}), path), UsageError);
}

}  // namespace
}  // namespace loid
