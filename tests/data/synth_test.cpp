// The synthetic corpus: determinism, Amazon-format round trip through read_reviews, rating spread,
// text signal, the 5-core property and multi-domain file naming.
#include "data/synth.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "data/reader.h"
#include "support/test_paths.h"

namespace loid {
namespace {

SynthOptions small(std::uint64_t seed = 1) {
  SynthOptions o;
  o.users = 80;
  o.items = 40;
  o.reviews_per_user = 7;
  o.seed = seed;
  o.progress = false;
  return o;
}

std::string write(SynthOptions o, const std::string& dir, const std::string& name) {
  o.out = dir + "/" + name;
  const auto paths = write_synth_corpus(o);
  EXPECT_EQ(paths.size(), 1u);
  return read_file(paths.at(0));
}

TEST(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
  const std::string dir = testing::temp_dir("synth_determinism");
  const std::string a = write(small(1), dir, "a.json");
  const std::string b = write(small(1), dir, "b.json");
  const std::string c = write(small(2), dir, "c.json");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const std::string gz_a = write(small(1), dir, "a.json.gz");
  const std::string gz_b = write(small(1), dir, "b.json.gz");
  EXPECT_EQ(gz_a, gz_b);
  ASSERT_GE(gz_a.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz_a[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz_a[1]), 0x8b);
  EXPECT_LT(gz_a.size(), a.size() / 2);
}

TEST(Synth, LinesAreAmazon2014Json) {
  const std::string dir = testing::temp_dir("synth_json");
  std::istringstream lines(write(small(), dir, "c.json"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    for (const char* key : {"reviewerID", "asin", "reviewText", "summary", "reviewTime"}) {
      ASSERT_TRUE(j.contains(key) && j[key].is_string()) << key << " in " << line;
    }
    ASSERT_TRUE(j["overall"].is_number_float()) << line;
    ASSERT_TRUE(j["unixReviewTime"].is_number_integer()) << line;
    EXPECT_EQ(j["unixReviewTime"].get<std::int64_t>() % 86400, 0);
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(synth_domain(small(), 1).size()));
}

TEST(Synth, ReadsBackWithNothingSkipped) {
  const std::string dir = testing::temp_dir("synth_readback");
  SynthOptions o = small(3);
  o.out = dir + "/corpus.json.gz";
  write_synth_corpus(o);
  const ReviewFile f = read_reviews(o.out);
  const auto expected = synth_domain(o, 1);
  EXPECT_EQ(f.report.skipped_total(), 0);
  ASSERT_EQ(f.reviews.size(), expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(f.reviews[k].user, expected[k].user);
    EXPECT_EQ(f.reviews[k].item, expected[k].item);
    EXPECT_EQ(f.reviews[k].rating, static_cast<float>(expected[k].rating));
    EXPECT_EQ(f.reviews[k].time, expected[k].time);
    EXPECT_NE(f.reviews[k].text.find(expected[k].text), std::string::npos);
  }
}

TEST(Synth, RatingsSpreadOverAllStars) {
  SynthOptions o = small();
  o.users = 300;
  o.items = 120;
  std::map<int, int> histogram;
  const auto reviews = synth_domain(o, 1);
  for (const auto& r : reviews) {
    ASSERT_GE(r.rating, 1);
    ASSERT_LE(r.rating, 5);
    ++histogram[r.rating];
  }
  for (int star = 1; star <= 5; ++star) {
    const double share = histogram[star] / static_cast<double>(reviews.size());
    EXPECT_GT(share, 0.01) << star << " stars";
    EXPECT_LT(share, 0.6) << star << " stars";
  }
}

bool mentions(const std::string& text, Sentiment s) {
  for (const std::string& w : synth_sentiment_words(s)) {
    // Sentiment words may start a sentence, so compare with the first letter lowered.
    std::string lower = text;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.find(w) != std::string::npos) return true;
  }
  return false;
}

TEST(Synth, TextCarriesRatingSignal) {
  SynthOptions o = small(5);
  o.users = 300;
  o.items = 120;
  for (int domain : {1, 4}) {
    double pos_sum = 0, neg_sum = 0;
    int pos_n = 0, neg_n = 0;
    for (const auto& r : synth_domain(o, domain)) {
      if (mentions(r.text, Sentiment::kStrongPositive)) pos_sum += r.rating, ++pos_n;
      if (mentions(r.text, Sentiment::kStrongNegative)) neg_sum += r.rating, ++neg_n;
    }
    ASSERT_GT(pos_n, 50);
    ASSERT_GT(neg_n, 50);
    EXPECT_GT(pos_sum / pos_n - neg_sum / neg_n, 1.0) << "domain " << domain;
  }
}

TEST(Synth, EveryUserAndItemHasFiveReviewsAndPairsAreUnique) {
  struct Case {
    std::int64_t users, items;
    int per_user;
  };
  for (const Case& c : {Case{5, 5, 5}, Case{6, 60, 5}, Case{200, 10, 8}, Case{150, 90, 12}}) {
    SynthOptions o = small(7);
    o.users = c.users;
    o.items = c.items;
    o.reviews_per_user = c.per_user;
    std::map<std::string, int> per_user, per_item;
    std::map<std::pair<std::string, std::string>, int> pairs;
    for (const auto& r : synth_domain(o, 1)) {
      ++per_user[r.user];
      ++per_item[r.item];
      EXPECT_EQ(++pairs[std::make_pair(r.user, r.item)], 1)
          << "duplicate pair " << r.user << " " << r.item;
    }
    EXPECT_EQ(per_user.size(), static_cast<std::size_t>(c.users));
    EXPECT_EQ(per_item.size(), static_cast<std::size_t>(c.items));
    for (const auto& [u, n] : per_user) EXPECT_GE(n, 5) << "user " << u;
    for (const auto& [i, n] : per_item) EXPECT_GE(n, 5) << "item " << i;
  }
}

TEST(Synth, OutputPathsPerDomain) {
  EXPECT_EQ(synth_output_paths("x/corpus.json.gz", 1),
            std::vector<std::string>{"x/corpus.json.gz"});
  EXPECT_EQ(synth_output_paths("x/corpus.json.gz", 2),
            (std::vector<std::string>{"x/corpus_d1.json.gz", "x/corpus_d2.json.gz"}));
  EXPECT_EQ(synth_output_paths("corpus.jsonl", 2),
            (std::vector<std::string>{"corpus_d1.jsonl", "corpus_d2.jsonl"}));
  EXPECT_EQ(synth_output_paths("a.b/corpus", 2),
            (std::vector<std::string>{"a.b/corpus_d1", "a.b/corpus_d2"}));
  EXPECT_EQ(synth_output_paths("a.b/corpus.gz", 2),
            (std::vector<std::string>{"a.b/corpus_d1.gz", "a.b/corpus_d2.gz"}));
}

TEST(Synth, DomainsDifferAndDomainOneEqualsSingleDomainCorpus) {
  const std::string dir = testing::temp_dir("synth_domains");
  SynthOptions o = small(9);
  o.domains = 3;
  o.out = dir + "/multi.json";
  const auto paths = write_synth_corpus(o);
  ASSERT_EQ(paths.size(), 3u);
  const std::string single = write(small(9), dir, "single.json");
  EXPECT_EQ(read_file(paths[0]), single);
  const std::string d2 = read_file(paths[1]);
  const std::string d3 = read_file(paths[2]);
  // Aspect nouns are domain-specific: instruments talk about frets, beauty about fragrance.
  EXPECT_NE(single.find("fret"), std::string::npos);
  EXPECT_EQ(d2.find("fret"), std::string::npos);
  EXPECT_NE(d2.find("fragrance"), std::string::npos);
  EXPECT_EQ(single.find("fragrance"), std::string::npos);
  EXPECT_NE(d3.find("stitching"), std::string::npos);
  EXPECT_FALSE(file_exists(o.out));
}

TEST(Synth, RejectsBadOptions) {
  SynthOptions o = small();
  o.out = testing::temp_dir("synth_bad") + "/x.json";
  for (auto change : std::vector<void (*)(SynthOptions&)>{
           [](SynthOptions& s) { s.domains = 0; }, [](SynthOptions& s) { s.domains = 9; },
           [](SynthOptions& s) { s.users = 4; }, [](SynthOptions& s) { s.items = 4; },
           [](SynthOptions& s) { s.reviews_per_user = 4; },
           [](SynthOptions& s) { s.reviews_per_user = 41; }, [](SynthOptions& s) { s.out = ""; }}) {
    SynthOptions bad = o;
    change(bad);
    EXPECT_THROW(write_synth_corpus(bad), UsageError);
  }
  EXPECT_FALSE(file_exists(o.out));
}

}  // namespace
}  // namespace loid
