// loid similarity: sampling, the cosine matrix on hand-made vectors, and the whole command on the
// tiny random BERT with two synthetic domains and a byte copy of the first (similarity 1 to it),
// including the gain table read from a bench results file.
#include "train/similarity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "data/synth.h"
#include "support/error_of.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

TEST(SimilaritySample, WithoutReplacementSeededAndSorted) {
  const auto a = sample_without_replacement(1000, 100, 7);
  ASSERT_EQ(a.size(), 100u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<std::int64_t>(a.begin(), a.end()).size(), 100u);
  EXPECT_GE(a.front(), 0);
  EXPECT_LT(a.back(), 1000);
  EXPECT_EQ(sample_without_replacement(1000, 100, 7), a);
  EXPECT_NE(sample_without_replacement(1000, 100, 8), a);
  // Fewer reviews than samples: all of them.
  EXPECT_EQ(sample_without_replacement(4, 100, 7), (std::vector<std::int64_t>{0, 1, 2, 3}));
  // Every index is reachable: over many seeds the first and last are each drawn about 10% of
  // the time (n 50, samples 5).
  int first = 0, last = 0;
  for (std::uint64_t s = 0; s < 2000; ++s) {
    const auto x = sample_without_replacement(50, 5, s);
    first += x.front() == 0;
    last += x.back() == 49;
  }
  EXPECT_GT(first, 120);
  EXPECT_LT(first, 280);
  EXPECT_GT(last, 120);
  EXPECT_LT(last, 280);
}

TEST(SimilarityMatrix, HandMadeVectors) {
  // (1,0), (0,2), (3,3): cos = 0 for the first two, 1/sqrt(2) with the diagonal one.
  const auto m = cosine_matrix({{1, 0}, {0, 2}, {3, 3}});
  const double r = 1.0 / std::sqrt(2.0);
  const std::vector<std::vector<double>> want = {{1, 0, r}, {0, 1, r}, {r, r, 1}};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(m[i][j], want[i][j], 1e-12) << i << "," << j;
  EXPECT_NEAR(cosine_matrix({{1, 2}, {-1, -2}})[0][1], -1.0, 1e-12);
  EXPECT_THROW(cosine_matrix({{1, 0}, {0, 0}}), UsageError);
  EXPECT_THROW(cosine_matrix({{1, 0}, {1, 0, 0}}), UsageError);
}

TEST(SimilarityLabel, FileNamesWithoutExtensions) {
  EXPECT_EQ(domain_label("/d/amazon2014/reviews_Musical_Instruments_5.json.gz"),
            "reviews_Musical_Instruments_5");
  EXPECT_EQ(domain_label("All_Beauty_5.json"), "All_Beauty_5");
  EXPECT_EQ(domain_label("x/reviews.tsv"), "reviews");
}

struct Domains {
  std::string a, b, a_copy, dir;
};

Domains make_domains() {
  Progress::set_quiet(true);
  Domains d;
  d.dir = testing::temp_dir("similarity_domains");
  SynthOptions so;
  so.domains = 2;
  so.users = 30;
  so.items = 20;
  so.seed = 11;
  so.progress = false;
  so.out = d.dir + "/synth.json";
  const auto paths = write_synth_corpus(so);
  d.a = paths[0];
  d.b = paths[1];
  d.a_copy = d.dir + "/a_copy.json";
  fs::copy_file(d.a, d.a_copy);
  return d;
}

SimilarityOptions tiny_options(const Domains& d, const std::string& out) {
  SimilarityOptions o;
  o.data = {d.a, d.b, d.a_copy};
  o.samples = 25;
  o.seed = 3;
  o.encoder_dir = testing::golden("bert/tiny");
  o.out = out;
  o.threads = 1;
  o.progress = false;
  return o;
}

TEST(Similarity, TinyBertCopyIsOneSymmetricAndReproducible) {
  const Domains d = make_domains();
  const std::string out = testing::temp_dir("similarity_out");
  std::ostringstream text;
  const SimilarityResult r = run_similarity(tiny_options(d, out), text);
  ASSERT_EQ(r.matrix.size(), 3u);
  EXPECT_EQ(r.pooling, "mean");  // BERT under "auto"
  EXPECT_EQ(r.sampled, (std::vector<std::int64_t>{25, 25, 25}));
  EXPECT_GT(r.reviews[0], 25);
  EXPECT_NEAR(r.matrix[0][2], 1.0, 1e-5);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(r.matrix[i][i], 1.0, 1e-12);
    for (int j = 0; j < 3; ++j) EXPECT_EQ(r.matrix[i][j], r.matrix[j][i]);
  }
  EXPECT_LT(r.matrix[0][1], 1.0 - 1e-7);  // other texts, another mean vector
  EXPECT_NE(text.str().find("synth_d2"), std::string::npos) << text.str();

  const json j = json::parse(read_file(out + "/similarity.json"));
  EXPECT_EQ(j["matrix"].get<std::vector<std::vector<double>>>(), r.matrix);
  EXPECT_EQ(j["domains"].size(), 3u);
  EXPECT_EQ(j["domains"][2]["label"], "a_copy");
  const std::string svg = read_file(out + "/similarity.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("a_copy"), std::string::npos);

  std::ostringstream again_text;
  const SimilarityResult again = run_similarity(tiny_options(d, ""), again_text);
  EXPECT_EQ(again.matrix, r.matrix);
}

TEST(Similarity, GainsFromBenchResults) {
  const Domains d = make_domains();
  const std::string tmp = testing::temp_dir("similarity_gains");
  // A bench on b with a plugin from a: loid 1.0, 0.9; loid+plugin 0.8, 0.95 (seeds 1, 2) -> gains
  // 0.2 and -0.05, mean 0.075.
  const json results = {
      {"data", d.b},
      {"sources", {d.a}},
      {"plugin", {{"pretrained", tmp + "/plugin"}}},
      {"rows",
       {{{"model", "loid"}, {"seeds", {1, 2}}, {"per_seed", {{"test_mse", {1.0, 0.9}}}}},
        {{"model", "loid+plugin"}, {"seeds", {1, 2}}, {"per_seed", {{"test_mse", {0.8, 0.95}}}}}}}};
  write_file_atomic(tmp + "/results.json", results.dump());
  SimilarityOptions o = tiny_options(d, "");
  o.data = {d.a, d.b};
  o.gains = {tmp + "/results.json"};
  std::ostringstream text;
  const SimilarityResult r = run_similarity(o, text);
  ASSERT_EQ(r.gains.size(), 1u);
  const GainRow& g = r.gains[0];
  EXPECT_EQ(g.target, "synth_d2");
  EXPECT_EQ(g.sources, std::vector<std::string>{"synth_d1"});
  EXPECT_EQ(g.similarity[0], r.matrix[1][0]);
  EXPECT_NEAR(g.gain, 0.075, 1e-12);
  EXPECT_EQ(g.seeds, 2);
  EXPECT_NE(text.str().find("MSE gain"), std::string::npos) << text.str();

  // A source that is not among --data is an error naming it.
  json other = results;
  other["sources"] = {tmp + "/elsewhere.json"};
  write_file_atomic(tmp + "/other.json", other.dump());
  o.gains = {tmp + "/other.json"};
  const std::string e = testing::error_of<UsageError>([&] { run_similarity(o, text); });
  EXPECT_NE(e.find("elsewhere.json"), std::string::npos) << e;
  // Fewer than two domains.
  o.data = {d.a};
  EXPECT_THROW(run_similarity(o, text), UsageError);
}

}  // namespace
}  // namespace loid
